#!/usr/bin/env bash
# Stands in for an SMS gateway delivering a family's reply: posts one inbound SMS to a running
# `vongdoi serve`, in the generic shape (docs/interface.md, "Inbound messages"). For trying a
# deployment's webhook and keywords by hand:
#
#   scripts/send-inbound.sh http://127.0.0.1:8080 "$VONGDOI_WEBHOOK_TOKEN" 0912345678 "Huỷ"
#   scripts/send-inbound.sh http://127.0.0.1:8080 "$VONGDOI_WEBHOOK_TOKEN" 0912345678 "DA TIEM 2" my-id-7
#
# The fifth argument is the gateway's message id (default: a new one each time); the same id
# twice is one message. Prints the service's answer: {"recorded", "id", "action"}.
set -euo pipefail
base=${1:?base URL of vongdoi serve}
token=${2:?the webhook token (VONGDOI_WEBHOOK_TOKEN)}
from=${3:?the sender, +84… or 0…}
text=${4:?the text}
id=${5:-manual-$(date +%s%N)}
body=$(python3 -c 'import json,sys; print(json.dumps({"id": sys.argv[1], "from": sys.argv[2], "text": sys.argv[3]}))' "$id" "$from" "$text")
curl -sS -H 'Content-Type: application/json' -H "X-Vongdoi-Token: $token" --data "$body" "$base/webhooks/sms/inbound"
echo
