#!/bin/sh
# A stand-in for a simulation code, for configs/command_files.yaml. Like many real codes it prints
# a banner and its progress on stdout and warnings on stderr, reads the namelist named by its
# first argument from its working folder (the point's work directory), and writes its results
# there, in out.json: energy = rho * sigma, trace = [rho, sigma, point]. When rho * sigma is over
# $STAND_IN_LIMIT it diverges: an ERROR line on stdout, a word on stderr, exit code 2.
value() { sed -n "s/^ *$1 *= *//p" "$2"; }
rho=$(value rho "$1")
sigma=$(value sigma "$1")
point=$(value point "$1")
seed=$(value seed "$1")
steps=$(value steps "$1")
echo "stand-in code 1.0, ${OMP_NUM_THREADS:-all} threads, seed $seed"
echo "read $1: rho = $rho, sigma = $sigma"
diverges=$(awk -v r="$rho" -v s="$sigma" -v l="${STAND_IN_LIMIT:-15}" 'BEGIN { print (r * s > l) }')
step=1
while [ "$step" -le "$steps" ]; do
  if [ "$diverges" = 1 ] && [ "$step" = 3 ]; then
    echo "stand-in: residual grows, giving up" >&2
    echo "ERROR: solver diverged at step $step (rho * sigma = $rho * $sigma is over ${STAND_IN_LIMIT:-15})"
    exit 2
  fi
  echo "step $step: residual 1e-$step"
  step=$((step + 1))
done
[ "$sigma" -gt 5 ] 2>/dev/null && echo "stand-in: warning: sigma = $sigma is large" >&2
awk -v rho="$rho" -v sigma="$sigma" -v point="$point" 'BEGIN {
  printf "{\"energy\": %.17g, \"trace\": [%.17g, %.17g, %d]}\n", rho * sigma, rho, sigma, point
}' > out.json
echo "done: wrote out.json"
