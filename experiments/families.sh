#!/usr/bin/env bash
# Detector families on spoofscan-base's protocol: leave-sources-out (3 folds of public-demos-train sources, paired
# fakes trained on but never scored) and the vocoder demos as an external test (never trained on or chosen by).
# Usage: bash experiments/families.sh WORK [TRAIN_MANIFEST] [DEV_MANIFEST] [STEP...]
#   WORK: the folder of `bash experiments/base.sh WORK` (its paired/ corpus, split.csv, and the resnet18 results
#         loso_mel/ and dev/ are reused); run base.sh's corpus step first on a fresh machine.
#   STEP: ship:FAMILY (train on every source, score the external test, time CPU inference), loso:FAMILY,
#         speed:FAMILY (time CPU inference alone; resnet18 = base_v2.sh's run/), fuse (the shipped members fused on
#         split.csv's val clips, scored on the external test), fuse-oof (fused on the members' out-of-fold LOSO
#         scores instead: every family with a finished LOSO, and the lfcc-gmm + lcnn pair).
#   FAMILY: lfcc-gmm, lcnn or rawnet2 (configs/<family>.toml). Default: ship and loso of every family, then both
#   fusions.
# Tables: python experiments/families_table.py WORK
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK=${1:?usage: families.sh WORK [TRAIN] [DEV] [STEP...]}
TRAIN=$(realpath "${2:-$ROOT/../shared/data/public-demos-train/MANIFEST.csv}")
DEV=$(realpath "${3:-$ROOT/../shared/data/vocoder-demos-dev/MANIFEST.csv}")
STEPS=("${@:4}")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(ship:lfcc-gmm loso:lfcc-gmm ship:lcnn ship:rawnet2 loso:lcnn loso:rawnet2 speed:resnet18 fuse fuse-oof)
S="$ROOT/.venv/bin/spoofscan"
PY="$ROOT/.venv/bin/python"
UNTESTED=$(printf -- "--untested-system %s " hifigan_universal world griffin_lim lpc)
cd "$WORK"
[ -f paired/manifest.csv ] || { echo "$WORK/paired/manifest.csv missing: run experiments/base.sh $WORK first" >&2; exit 2; }
[ -f split.csv ] || $S split paired/manifest.csv --out split.csv --val 0.1 --test 0

for step in "${STEPS[@]}"; do
    family=${step#*:}
    config="$ROOT/configs/${family//-/_}.toml"
    case $step in
    ship:*)
        kind=$(grep -m1 '^input_kind' "$config" | cut -d'"' -f2)
        [ -d "store_$kind" ] || $S prepare split.csv --out "store_$kind" --config "$config" --workers 2
        /usr/bin/time -f "%e" -o "time_$family.txt" $S train "store_$kind" --out "run_$family" --config "$config"
        $S evaluate "run_$family/best.pt" "$DEV" --split all --by system --out "dev_$family" --bootstrap 1000
        $PY "$ROOT/benchmarks/inference.py" --checkpoint "run_$family/best.pt" --backends torch --out "speed_$family"
        ;;
    speed:*)
        run=$([ "$family" = resnet18 ] && echo run || echo "run_$family")
        $PY "$ROOT/benchmarks/inference.py" --checkpoint "$run/best.pt" --backends torch --out "speed_$family"
        ;;
    loso:*)
        $S loo paired/manifest.csv --by source --folds 3 $UNTESTED --out "loso_$family" --config "$config" --workers 2
        ;;
    fuse)
        members=(run/best.pt)  # resnet18: spoofscan-base v2's run (base.sh ship)
        for family in lfcc-gmm lcnn rawnet2; do
            if [ -f "run_$family/best.pt" ]; then members+=("run_$family/best.pt"); fi
        done
        $S fuse "${members[@]}" --on split.csv --split val --out fused.pt
        $S evaluate fused.pt "$DEV" --split all --by system --out dev_fused --bootstrap 1000
        ;;
    fuse-oof)
        members=(run/best.pt) scores=(--scores loso_mel)
        for family in lfcc-gmm lcnn rawnet2; do
            if [ -f "run_$family/best.pt" ] && [ -f "loso_$family/loo.json" ]; then
                members+=("run_$family/best.pt") scores+=(--scores "loso_$family")
            fi
        done
        $S fuse "${members[@]}" "${scores[@]}" --out fused_oof.pt
        $S evaluate fused_oof.pt "$DEV" --split all --by system --out dev_fused_oof --bootstrap 1000
        $S fuse run_lfcc-gmm/best.pt run_lcnn/best.pt --scores loso_lfcc-gmm --scores loso_lcnn \
            --out fused_oof_gmm_lcnn.pt
        $S evaluate fused_oof_gmm_lcnn.pt "$DEV" --split all --by system --out dev_fused_oof_gmm_lcnn --bootstrap 1000
        if [ -f loso_lfcc-gmm_60_cmn/loo.json ]; then  # v5 + v6: the 60-coefficient GMMs without and with window CMN
            $S fuse run_lfcc-gmm_60/best.pt run_lfcc-gmm_60_cmn/best.pt --scores loso_lfcc-gmm_60 \
                --scores loso_lfcc-gmm_60_cmn --out fused_cmn_oof.pt
            $S evaluate fused_cmn_oof.pt "$DEV" --split all --by system --out dev_fused_cmn_oof --bootstrap 1000
        fi
        ;;
    *) echo "unknown step $step: use ship:FAMILY, loso:FAMILY, speed:FAMILY, fuse or fuse-oof" >&2; exit 2 ;;
    esac
done
