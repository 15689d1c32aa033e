#!/bin/bash
# A width × learning-rate sweep with 5 seeds (4 × 2 × 5 = 40 runs) as a Slurm job array: each array
# task is one shard (lplr reads SLURM_ARRAY_TASK_ID/_MIN/_COUNT itself), all of them writing to one
# directory on a shared file system. Once, on the login node, in the lplr checkout:
#
#   npm ci && node build.mjs            # build the bundle once, not in 8 tasks at the same time
#   export SWEEP_DIR=/shared/$USER/lplr-sweeps/width-lr   # sbatch passes it on to the tasks
#   jobid=$(sbatch --parsable docs/slurm-sweep.sh)
#   sbatch --dependency=afterany:$jobid --wrap "node bin/lplr.mjs merge $SWEEP_DIR"
#
# Resubmitting the same script later skips finished runs and resumes interrupted ones.
#
#SBATCH --job-name=lplr-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=02:00:00
#SBATCH --gres=gpu:1
#   (optional: without a GPU lplr trains on the CPU through Mesa's llvmpipe, much more slowly)
#SBATCH --signal=TERM@120
#   (SIGTERM to the job step 2 minutes before the time limit: running runs checkpoint and stop)
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=lplr-sweep-%A_%a.log

set -uo pipefail

SWEEP_DIR=${SWEEP_DIR:-/shared/$USER/lplr-sweeps/width-lr}
cd "${LPLR_CHECKOUT:-$SLURM_SUBMIT_DIR}" || exit 2
# Keep the adapter probe and throughput caches off the (possibly slow, shared) home directory.
export LPLR_CACHE_DIR=${LPLR_CACHE_DIR:-${TMPDIR:-/tmp}/lplr-cache-$USER}

# Every task runs the same command; only the shard differs, and lplr takes it from the array.
# node runs lplr directly: under npx, npm forwards Slurm's SIGTERM a second time (lplr ignores a
# repeat within 2 s, but a direct child also gets the signal promptly and exits with lplr's code).
srun node bin/lplr.mjs sweep fig1 \
  --grid width=256,512,1024,2048 \
  --grid lr=0.001,0.0005 \
  --seeds 0-4 \
  --checkpoint-minutes 2 \
  --out "$SWEEP_DIR"
status=$?

# 130: stopped by the signal before the time limit; requeue this task so it resumes from its
# checkpoints. 3: the shard finished but some runs failed (see failed.json in their directories).
if [ "$status" -eq 130 ]; then
  scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
fi
exit "$status"
