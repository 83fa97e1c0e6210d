#!/usr/bin/env bash
# A detector family trained with codec and noise augmentation (one degraded copy of every training clip, both
# classes), on spoofscan-base's protocol: the external test (clean and degraded) and leave-sources-out.
# Usage: bash experiments/augment.sh WORK [TRAIN_MANIFEST] [DEV_MANIFEST] [FAMILY]
#   WORK: the folder of `bash experiments/base.sh WORK` (its paired/ corpus and split.csv); FAMILY: lfcc-gmm
#   (default), lcnn or rawnet2 (configs/<family>.toml). Writes run_FAMILY_aug, dev_FAMILY_aug, degrade_FAMILY_aug
#   and loso_FAMILY_aug; compare with the unaugmented rows of families.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK=${1:?usage: augment.sh WORK [TRAIN] [DEV] [FAMILY]}
DEV=$(realpath "${3:-$ROOT/../shared/data/vocoder-demos-dev/MANIFEST.csv}")
FAMILY=${4:-lfcc-gmm}
S="$ROOT/.venv/bin/spoofscan"
CONFIG="$ROOT/configs/${FAMILY//-/_}.toml"
KIND=$(grep -m1 '^input_kind' "$CONFIG" | cut -d'"' -f2)
AUGMENT=(--augment-copies 1)
for condition in mp3 ogg_vorbis opus telephone gsm g722 noise_random; do AUGMENT+=(--augment "$condition"); done
UNTESTED=$(printf -- "--untested-system %s " hifigan_universal world griffin_lim lpc)
cd "$WORK"
[ -f paired/manifest.csv ] && [ -f split.csv ] || { echo "$WORK: run experiments/base.sh $WORK corpus first" >&2; exit 2; }

[ -f "store_${KIND}_aug/header.json" ] || $S prepare split.csv --out "store_${KIND}_aug" --config "$CONFIG" --workers 2 "${AUGMENT[@]}"
[ -f "run_${FAMILY}_aug/best.pt" ] || $S train "store_${KIND}_aug" --out "run_${FAMILY}_aug" --config "$CONFIG"
$S evaluate "run_${FAMILY}_aug/best.pt" "$DEV" --split all --by system --out "dev_${FAMILY}_aug" --bootstrap 1000
$S degrade "run_${FAMILY}_aug/best.pt" "$DEV" --split all --out "degrade_${FAMILY}_aug"
$S loo paired/manifest.csv --by source --folds 3 $UNTESTED --out "loso_${FAMILY}_aug" --config "$CONFIG" --workers 2 "${AUGMENT[@]}"
