#!/usr/bin/env bash
# spoofscan-base v15: WaveFake's LFCC-GMM with 60 cepstral coefficients, each window's cepstral mean and each frame's
# DC removed, fitted on the windows whose band reaches 8.5 kHz, narrowband windows scored with an offset, four GMMs a
# class averaged, each frame's log-likelihood ratio bounded to +-4 nats (configs/base.toml), trained on real deepfakes (public-demos-train), extra real speech from other
# recording chains (KDE's klettres-data and hedgewars-data, and Tux Paint's stamp descriptions, each source's words
# joined into utterance-length clips: Debian packages, installed here if missing; experiments/extra_reals.py) and
# paired fakes of every real clip (at its band edge, crest factor and, for a lossy file, bitrate too; HiFi-GAN, WORLD,
# Griffin-Lim, LPC; and of every wideband real clip HiFi-GAN run as a 24 kHz and as a 25-35 kHz vocoder), chosen by
# leave-sources-out among the detector families and recipe variants (families.sh, variant.sh), calibrated on its
# recipe's out-of-fold leave-sources-out scores, then scored on the vocoder demos (an external test: never trained on
# or calibrated on).
# Usage: bash experiments/base.sh WORK [PUBLIC_DEMOS_MANIFEST] [VOCODER_DEMOS_MANIFEST] [STEP...]
#   STEP: corpus (extra real speech, paired fakes, split.csv and the shortcut audits), gmm (the recipe trained on
#   split.csv, its external test and leave-sources-out, the extra speech in every fold's training set: variant.sh
#   with configs/base.toml, outputs named base_gmm), ship (calibrate and export the weights, then the external test,
#   degradation suite and model-view shortcut audit over 10 fold assignments). Default: all three. v10's build from
#   an empty WORK took 1 h 46 min on 2 CPU cores (WORK b10: corpus 59 min, 57 of them the 7,064 paired fakes, a lossy real file's fakes each
#   coded up to 8 times to find its bitrate; gmm 33 min; ship 13 min), peak memory 4.4 GB; v12's corpus joins the
#   extra speech's 1,352 short words into 331 clips and so has 4,328 paired fakes instead of v11's 7,384
#   (experiments/FAMILIES.md: "klettres' and hedgewars' words joined too"); v14's adds HiFi-GAN run as a 24 kHz and
#   as a 25-35 kHz vocoder on the 514 wideband real clips (1,028 more fakes, about what v13's 24 kHz copies of all
#   1,082 clips cost: 35-46 min; FAMILIES.md: "Only wideband clips get the rate-moved copies"); its four GMMs a class
#   take 7-8 min a fit against v13's 4.6 min for one (scikit-learn's EM), about 11 min more over the four fits of the
#   gmm step (FAMILIES.md: "Four GMMs a class"); v15's bound on the frame ratios costs no time. Those
#   times were taken on an Intel Xeon machine; on an AMD EPYC one (2026-12-06, 1.2-1.5x slower: predict 178x real
#   time against 221-275x) v15's corpus step made 510 of its 5,356 fakes in its first 13 min (stopped): about 2.3
#   hours for the fakes alone, over the issue's 2.5 hours with the other steps. CORPUS=wideband (below) took there,
#   from an empty WORK: corpus 81 min, gmm 47 min, ship not timed (13 min on Intel), and scored 16.3 % on
#   leave-sources-out against v15's 14.1 % (FAMILIES.md: "The build on a slower machine").
#   What it was chosen against: bash experiments/families.sh WORK and the variants in variant.sh's header.
#   CORPUS=wideband: the corpus of the v16 candidate (FAMILIES.md: "The build on a slower machine"): every maker on
#   the 514 wideband real clips only and one rate-moved HiFi-GAN copy a clip (24-35 kHz), 2,570 paired fakes.
#   CORPUS=wideband24: the same and HiFi-GAN run as a 24 kHz vocoder too (v15's two rate-moved copies a wideband
#   clip, without its narrowband clips' fakes), 3,084 paired fakes: the v17 candidate with gmm_iterations = 30 in
#   configs/base.toml (FAMILIES.md: "Both rate-moved copies back"): corpus about 112 min from an empty WORK there,
#   gmm 38 min, 15.0 % on leave-sources-out (EM seed 1 15.1 %). pair's bitrate search and FFT filters and loo's
#   fold stores have since got faster (benchmarks/RESULTS.md, sections 8 and 9): about 106 + 25 min, and a minute
#   for the weights, by the steps' times (FAMILIES.md: "The 15 % goal sits inside this recipe's noise").
#   CORPUS=wideband15: v15's makers (24 kHz and 25-35 kHz copies) on the 514 wideband real clips only, 3,084 paired
#   fakes: what v15's GMMs fit, as they fit no narrowband window, without the narrowband clips' fakes that bring the
#   file-property audit from 0.968 to 0.873: v15's recipe within 2.5 hours on the AMD machine, measured in one run
#   from an empty WORK (w15full, 2026-12-06): corpus 106 min 38 s, gmm step 28 min 47 s, the weights after 2 h 15 min
#   39 s, 10.0 / 13.0 / 21.6 % = 14.9 % on leave-sources-out, 6.5 % on the demos (an earlier build from v17's
#   hard-linked fakes, WORK v15w: 15.3 % and 5.5 %, model-view audit 0.603; FAMILIES.md: "v15's recipe on the
#   wideband corpus in one run").
#   PAIR_OPTIONS: more options for the corpus step's pair, e.g. PAIR_OPTIONS="--system hifigan_ljspeech" (FAMILIES.md:
#   "A vocoder that does not know the speaker", WORK b9j).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK=${1:?usage: base.sh WORK [TRAIN] [DEV] [STEP...]}
TRAIN=$(realpath "${2:-$ROOT/../shared/data/public-demos-train/MANIFEST.csv}")
DEV=$(realpath "${3:-$ROOT/../shared/data/vocoder-demos-dev/MANIFEST.csv}")
STEPS=("${@:4}")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(corpus gmm ship)
S="$ROOT/.venv/bin/spoofscan"
case ${CORPUS:-} in ""|wideband|wideband24|wideband15) ;;
    *) echo "base.sh: CORPUS=$CORPUS is unknown; use wideband, wideband24, wideband15 or leave it unset" >&2
       exit 2 ;; esac
mkdir -p "$WORK" && WORK=$(realpath "$WORK") && cd "$WORK"

for step in "${STEPS[@]}"; do case $step in
corpus)  # every real clip re-synthesized at its own rate, band, band edge, level, crest factor, length and format;
         # the split; the audits
    [ -d /usr/share/klettres ] && [ -d /usr/share/games/hedgewars/Data/Sounds/voices ] &&
        [ -d /usr/share/tuxpaint/stamps ] ||
        apt-get install -y klettres-data hedgewars-data tuxpaint-stamps-default ||
        { echo "base.sh: the extra real speech is missing; run 'apt-get install klettres-data hedgewars-data" \
               "tuxpaint-stamps-default' as root" >&2
          exit 2; }
    # 331 real clips after the public ones: klettres' 595 words joined into 154 clips, hedgewars' 420 into 97,
    # Tux Paint's 337 into 80
    "$ROOT/.venv/bin/python" "$ROOT/experiments/extra_reals.py" "$TRAIN" combined.csv \
        --source klettres --source hedgewars --source tuxpaint --join klettres --join hedgewars --join tuxpaint
    MAKERS=(hifigan_universal world griffin_lim lpc hifigan_universal_24k hifigan_universal_25_35k)
    WIDEBAND_ONLY=(hifigan_universal_24k hifigan_universal_25_35k)
    if [ "${CORPUS:-}" = wideband ]; then  # the v16 candidate: no narrowband clip's fakes (no GMM fits them), one
        MAKERS=(hifigan_universal world griffin_lim lpc hifigan_universal_24_35k)  # rate-moved copy a clip
        WIDEBAND_ONLY=("${MAKERS[@]}")
    elif [ "${CORPUS:-}" = wideband24 ]; then  # the same and a 24 kHz copy too: v15's two rate-moved copies a clip
        MAKERS=(hifigan_universal world griffin_lim lpc hifigan_universal_24k hifigan_universal_24_35k)
        WIDEBAND_ONLY=("${MAKERS[@]}")
    elif [ "${CORPUS:-}" = wideband15 ]; then  # v15's makers on the wideband clips only: v15's training as its GMMs
        WIDEBAND_ONLY=("${MAKERS[@]}")          # see it, without the narrowband fakes that lower the file audit
    fi
    $S pair combined.csv --out paired --workers 2 --match-edge --match-crest --match-bitrate ${PAIR_OPTIONS:-} \
        $(printf -- "--system %s " "${MAKERS[@]}") $(printf -- "--wideband-only %s " "${WIDEBAND_ONLY[@]}")
    [ -f split.csv ] || $S split paired/manifest.csv --out split.csv --val 0.1 --test 0
    $S audit "$TRAIN" --shortcuts --json shortcuts_public.json   # as published: strong cues, reported
    $S audit paired/manifest.csv --shortcuts --json shortcuts_paired.json   # with the paired fakes, reported
    ;;
gmm)  # run_base_gmm/ is configs/base.toml's recipe on split.csv (= variant.sh's v8kh); leave-sources-out on v12's
      # folds (experiments/base_folds.json), which loo's own balancing by clip count would move when a maker is added
    # the degradation suite once, in the ship step: calibration moves no clip's rank, so its EERs are the same
    ALWAYS_TRAIN="KDE/klettres-data hedgewars/hedgewars-data tuxpaint/tuxpaint-stamps-default" DEV="$DEV" DEGRADE=0 \
        FOLDS_FROM="$ROOT/experiments/base_folds.json" \
        bash "$ROOT/experiments/variant.sh" "$WORK" "$ROOT/configs/base.toml" base_gmm
    ;;
ship)
    # calibrated on its own recipe's out-of-fold leave-sources-out scores: LLRs for sources it has not seen
    $S calibrate run_base_gmm/best.pt --scores loso_base_gmm --out calibrated.pt
    $S export calibrated.pt --fp16 spoofscan-base.pt   # the shipped weights (a GMM stays in fp32); then its report:
    $S evaluate calibrated.pt "$DEV" --split all --by system --out dev_base --bootstrap 1000
    $S degrade calibrated.pt "$DEV" --split all --out degrade_base
    # the training set's shortcut audit as this model sees the audio (the model card's second figure), its mean over
    # 10 assignments of utterance groups to folds
    $S audit paired/manifest.csv --shortcuts --as-model "$ROOT/configs/base.toml" --repeats 10 \
        --json shortcuts_paired_model_view.json
    echo "copy $WORK/spoofscan-base.pt to src/spoofscan/weights/ to ship it"
    ;;
*) echo "unknown step $step: use corpus, gmm or ship" >&2; exit 2 ;;
esac; done
