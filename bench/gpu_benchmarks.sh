#!/usr/bin/env bash
# The two GPU benchmarks of bench/results/README.md in one call on a bare, lent GPU machine that
# reaches no network: the backend's pinned packages its image lacks come as wheels in .whl/
# (downloaded here for its Python 3.12: bench/results/README.md lists them), the full-size
# replicas the chain needs are built into $MODELS, then each benchmark writes its JSON under
# $OUT as it goes, so a call cut short at its limit still returns what was measured.
#
#   OUT=DIR [MODELS=DIR] [DEADLINE_S=560] [PHASE=all|build|parts-rig|chain|text] [CHAIN_ARGS=--quick] [PARTS_RIG_S=180] \
#     IMG23D_COMMIT=$(git rev-parse HEAD) bash bench/gpu_benchmarks.sh
#
# A 15-minute lease does not hold the build, the check and all three policies in one 10-minute
# command: PHASE=build measures a part and a rig (bench/parts_rig_gpu.py: both models built in memory
# on the device, no files: PHASE=parts-rig runs it alone), builds and checks (benchmark 1), then
# PHASE=chain on the same warm machine runs benchmark 2 alone (the build finds every model already
# there and skips it). PHASE=text builds the image editor beside the chain's models and runs text to one
# textured object (bench/text_object.py: issue 76's goal, 30 s or less) and nothing else.
set -u -o pipefail
OUT=${OUT:?set OUT to the folder the results go to}
MODELS=${MODELS:-/tmp/img23d-full-size}
DEADLINE_S=${DEADLINE_S:-560}  # seconds this script may take in all; the chain gets what is left
PHASE=${PHASE:-all}
case "$PHASE" in  # a mistyped phase ran everything, the lent minutes with it
  all|build|parts-rig|chain|text) ;;
  *) echo "PHASE=$PHASE is none of all, build, parts-rig, chain, text"; exit 2 ;;
esac
CHAIN_ARGS=${CHAIN_ARGS:-}
# What the chain's default preset loads (textured jobs make materials; the full-size set has no
# depth model, so objects are laid out by their boxes), and nothing else.
COMPONENTS=${COMPONENTS:-grounding,matting,shape,delight,paint-turbo,materials}
# Text to 3D adds the image editor (FLUX.2 [klein] 4B) that makes the picture.
[ "$PHASE" = text ] && COMPONENTS="editor,$COMPONENTS"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
exec > >(tee "$OUT/gpu-log.txt") 2>&1
start=$SECONDS
stamp() { echo "== $(date -u +%H:%M:%S) +$((SECONDS - start)) s: $*"; }
left() { echo $((DEADLINE_S - (SECONDS - start))); }
# A step's limit: its own cap, or the seconds left when fewer (each step had a fixed one: a build call ran 660 s
# past DEADLINE_S=330); 0 when none are left, which the step takes as "skip" (timeout 0 would mean no limit).
limit() { local cap=$1 rest; rest=$(left); [ "$rest" -lt "$cap" ] && cap=$rest; [ "$cap" -gt 0 ] && echo "$cap" || echo 0; }
run_for() {  # run_for CAP WHAT COMMAND...: the command under limit CAP, or a line saying it had no time
  local seconds what=$2; seconds=$(limit "$1"); shift 2
  if [ "$seconds" -le 0 ]; then echo "no time left for $what: skipped"; return 124; fi
  timeout "$seconds" "$@"
}

stamp "install the carried wheels"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || { echo "the carried wheels did not install"; exit 1; }
export PYTHONPATH=/tmp/site:$PWD/protocol:$PWD/backend
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, transformers, diffusers, numpy, scipy, trimesh; print('torch', torch.__version__, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, torch.cuda.get_device_name())" \
  || { echo "the backend's packages do not import"; exit 1; }

if [ "$PHASE" != chain ] && [ "$PHASE" != text ]; then
  # Built in memory on the device (about a second each), so it needs nothing of the build below.
  stamp "parts and rig: one part and a 50-joint rig, beside the preflight's estimates"
  run_for "${PARTS_RIG_S:-180}" "the parts and rig benchmark" \
    python3 bench/parts_rig_gpu.py --device cuda --json "$OUT/parts-rig-gpu.json" \
    || echo "the parts and rig benchmark ended with status $?"
  [ "$PHASE" = parts-rig ] && { stamp done; exit 0; }
fi

tiny=""
if [ "$PHASE" != text ]; then  # text_object.py reads none of them: they only took the build's CPU
  stamp "tiny models for the chain's spawn-to-hello figure, beside the full-size build"
  python3 -m img23d_backend.replicas > /tmp/tiny-models.log 2>&1 &
  tiny=$!
fi
stamp "build the full-size replicas: $COMPONENTS"
# The editor's 15 GB take their own minutes beside the chain's models.
run_for "$([ "$PHASE" = text ] && echo 450 || echo 300)" "the build" python3 bench/full_size_models.py \
  --out "$MODELS" --only "$COMPONENTS" || echo "the build failed or ran out of time"
[ -z "$tiny" ] || wait $tiny || { echo "the tiny models did not build:"; tail -20 /tmp/tiny-models.log; }
if [ "$PHASE" = all ] || [ "$PHASE" = chain ]; then  # the chain's grounding answers Qwen3-VL's length: built here
  run_for 240 "the chain's answers" python3 bench/chain_answers.py --models full-size-random --models-dir "$MODELS" \
    || echo "the chain's answers did not all build: the chain builds the rest"
fi
df -h /tmp | tail -1

if [ "$PHASE" != chain ] && [ "$PHASE" != text ]; then
  stamp "benchmark 1: production loaders, one forward each"
  run_for 180 "benchmark 1" python3 bench/full_size_models.py --out "$MODELS" --only "$COMPONENTS" --check \
    --device cuda --json "$OUT/full-size-load-gpu.json" || echo "the check ended with status $?"
fi
[ "$PHASE" = build ] && { stamp done; exit 0; }
if [ "$PHASE" = text ]; then
  stamp "text to one textured object ($(left) s left)"
  run_for "$(left)" "text to an object" python3 bench/text_object.py --models full-size-random \
    --models-dir "$MODELS" --device cuda --json "$OUT/text-object-gpu.json" \
    || echo "text to an object ended with status $?"
  stamp done
  exit 0
fi

stamp "benchmark 2: the chain under three residency policies ($(left) s left)"
run_for "$(left)" "benchmark 2" python3 bench/chain.py --models full-size-random --models-dir "$MODELS" \
  --device cuda --budget-gb 12 $CHAIN_ARGS --json "$OUT/chain-full-size-gpu.json" || echo "the chain ended with status $?"
stamp done
