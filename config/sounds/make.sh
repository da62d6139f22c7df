#!/usr/bin/env bash
# Makes the kiosk's sound clips (16 kHz mono 16-bit WAV):
#   tones/<tone>.wav       short tones per outcome tone (sox synth)
#   <lang>/<kind>.wav      the fixed spoken phrase of each decision kind (espeak-ng), read from
#                          the catalogue's `decision.<kind>.voice` entries (ru = msgid, en = msgstr)
# Replace any clip by a recorded voice with the same name and format; rerun to regenerate.
# Needs: espeak-ng, sox.
set -euo pipefail
cd "$(dirname "$0")"
po=../i18n/en/LC_MESSAGES/otmetka-app.po
rate=16000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p tones ru en
# Tones (the screen's colour and icon say the same): rising = done, one tone = notice,
# two tones = needs the instructor, low = refused, long low = error.
sox -n -r $rate -c 1 -b 16 tones/accepted.wav synth 0.12 sine 660 : synth 0.18 sine 880 gain -6
sox -n -r $rate -c 1 -b 16 tones/notice.wav synth 0.25 sine 740 gain -6
sox -n -r $rate -c 1 -b 16 tones/warning.wav synth 0.15 sine 880 : synth 0.08 sine 0 : synth 0.15 sine 880 gain -6
sox -n -r $rate -c 1 -b 16 tones/refused.wav synth 0.35 square 220 gain -14
sox -n -r $rate -c 1 -b 16 tones/error.wav synth 0.8 square 180 gain -14

# voice LANG CTX: the catalogue's text for msgctxt CTX in LANG.
voice() {
  local lang=$1 ctx=$2 field
  if [ "$lang" = ru ]; then field=msgid; else field=msgstr; fi
  awk -v ctx="msgctxt \"$ctx\"" -v field="$field" '
    $0 == ctx { found = 1; next }
    found && index($0, field " ") == 1 { sub("^" field " \"", ""); sub("\"$", ""); print; exit }
  ' "$po"
}

kinds="accepted already_checked_in unknown_card card_blocked card_replaced group_full
  frequency_limit not_in_programme no_consent no_open_session clock_not_trusted not_eligible"
# Prompts that are not decisions: card enrolment, the check-out question (`voice.<id>` entries;
# the clip is named after the id with dots as underscores).
prompts="enrol.done enrol.in_use checkout.question"

# say LANG CTX CLIP: speaks the catalogue's CTX text into LANG/CLIP.wav.
say() {
  local lang=$1 ctx=$2 clip=$3 text
  text=$(voice "$lang" "$ctx")
  if [ -z "$text" ]; then echo "make.sh: no voice text for $lang/$ctx" >&2; exit 1; fi
  espeak-ng -v "$lang" -s 140 -w "$tmp/raw.wav" "$text"
  # 16 kHz mono, trimmed silence, normalised to -3 dBFS.
  sox "$tmp/raw.wav" -r $rate -c 1 -b 16 "$lang/$clip.wav" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
  echo "$lang/$clip.wav: $text"
}

for lang in ru en; do
  for kind in $kinds; do
    say "$lang" "decision.$kind.voice" "$kind"
  done
  for p in $prompts; do
    say "$lang" "voice.$p" "${p//./_}"
  done
done
