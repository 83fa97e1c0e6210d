#!/usr/bin/env bash
# Reproduces sections 1-3 of experiments/GENERALIZATION.md: the seed's whole-clip resize against fixed windows, and
# train-time degradations, on unseen vocoders (leave one out), degraded audio and another corpus.
# Usage: bash experiments/generalization.sh [WORK_DIR] [VOCODER_DEMOS_MANIFEST]   (about 2.5 hours on 2 CPU cores)
set -euo pipefail
WORK=${1:-generalization-runs}
DEV=${2:-../shared/data/vocoder-demos-dev/MANIFEST.csv}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
S="$ROOT/.venv/bin/spoofscan"
mkdir -p "$WORK" && cd "$WORK"
$S synth /usr/share/asterisk/sounds/en_US_f_Allison --out corpus --max-clips 120 --max-seconds 6 \
    --speaker allison --source asterisk --extension wav --workers 2  # the 8 kHz prompts
COMMON="--set image_size=64 --set weights=none --set unfreeze_epoch=1 --set lr=0.001 --set epochs=6 --workers 2"
$S loo corpus/manifest.csv --out loo_resize --seeds 0,1 $COMMON --set input_mode=resize
$S loo corpus/manifest.csv --out loo_window --seeds 0,1 $COMMON
$S loo corpus/manifest.csv --out loo_window_freq $COMMON --set normalize=frequency
$S loo corpus/manifest.csv --out loo_window_dataset $COMMON --set normalize=dataset
TRAIN="--weights none --unfreeze-epoch 1 --lr 1e-3 --epochs 6"
for mode in resize window; do
    $S split corpus/manifest.csv --out split_$mode.csv --val 0.15 --test 0.15 --force
    $S prepare split_$mode.csv --out store_$mode --image-size 64 --input-mode $mode --workers 2 --force
    $S train store_$mode --out run_$mode $TRAIN
    $S evaluate run_$mode/best.pt "$DEV" --split all --out dev_$mode
    $S degrade run_$mode/best.pt split_$mode.csv --out degrade_$mode
done
$S prepare split_window.csv --out store_window_aug --image-size 64 --workers 2 --force \
    --augment mp3 --augment telephone --augment noise_20db --augment reverb --augment-copies 2
$S train store_window_aug --out run_window_aug $TRAIN
$S degrade run_window_aug/best.pt split_window.csv --out degrade_window_aug
$S evaluate run_window_aug/best.pt "$DEV" --split all --out dev_window_aug
printf '[features]\nfmax = 3800.0\nimage_size = 64\n' > fmax.toml
$S prepare split_window.csv --out store_window_fmax --config fmax.toml --workers 2 --force \
    --augment mp3 --augment telephone --augment noise_20db --augment reverb --augment-copies 2
$S train store_window_fmax --out run_window_fmax $TRAIN
$S evaluate run_window_fmax/best.pt "$DEV" --split all --out dev_window_fmax
# Two sources: asterisk + klettres-data (apt-get install klettres-data), without and with --fake-codec ogg_vorbis
two_sources() {  # NAME [extra synth options]
    local name=$1; shift
    $S synth /usr/share/klettres --out corpus_$name --max-clips 200 --max-seconds 6 --speaker klettres \
        --source klettres --workers 2 "$@"
    $S split corpus/manifest.csv corpus_$name/manifest.csv --out split_$name.csv --val 0.15 --test 0.15 --force
    $S prepare split_$name.csv --out store_$name --image-size 64 --workers 2 --force \
        --augment ogg_vorbis --augment mp3 --augment noise_20db --augment-copies 2
    $S train store_$name --out run_$name $TRAIN --set class_balance=true
    $S evaluate run_$name/best.pt store_$name --by system --by source --out test_$name --bootstrap 200
    $S evaluate run_$name/best.pt "$DEV" --split all --out dev_$name
}
two_sources klettres
two_sources klettres_ogg --fake-codec ogg_vorbis
# Section 3: the same two-source data with per-frequency normalization (3 epochs: the run reported was stopped there)
$S prepare split_klettres_ogg.csv --out store_klettres_ogg_freq --image-size 64 --normalize frequency --workers 2 \
    --force --augment ogg_vorbis --augment mp3 --augment noise_20db --augment-copies 2
$S train store_klettres_ogg_freq --out run_klettres_ogg_freq --weights none --unfreeze-epoch 1 --lr 1e-3 --epochs 3 \
    --set class_balance=true
$S evaluate run_klettres_ogg_freq/best.pt "$DEV" --split all --out dev_klettres_ogg_freq
# Each augmentation alone (section 2a): one degraded copy of every training clip with one condition, or on-device
# time/frequency masking; every model scored by the degradation suite; training seeds 0 and 1
for aug in mp3 ogg_vorbis telephone g722 noise_20db noise_10db noise_random reverb resample_16k; do
    $S prepare split_window.csv --out store_aug_$aug --image-size 64 --workers 2 --force --augment $aug --augment-copies 1
done
$S degrade run_window/best.pt split_window.csv --out degrade_window_g722 --condition g722  # the baseline's g722 row
$S train store_window --out run_window_s1 $TRAIN --set seed=1
$S degrade run_window_s1/best.pt split_window.csv --out degrade_window_s1
for seed in 0 1; do
    suffix=$([ $seed = 0 ] || echo _s$seed)
    for aug in mp3 ogg_vorbis telephone g722 noise_20db noise_10db noise_random reverb resample_16k; do
        $S train store_aug_$aug --out run_aug_$aug$suffix $TRAIN --set seed=$seed
        $S degrade run_aug_$aug$suffix/best.pt split_window.csv --out degrade_aug_$aug$suffix
    done
    $S train store_window --out run_aug_specaugment$suffix $TRAIN --set seed=$seed --set aug_specaugment=true
    $S degrade run_aug_specaugment$suffix/best.pt split_window.csv --out degrade_aug_specaugment$suffix
done
python3 "$ROOT/experiments/augmentation_table.py"  # the table of section 2a
