#!/bin/sh
# A stand-in for a simulation code, for configs/command_files.yaml: it logs on stdout, reads the
# namelist named by its first argument from its working folder (the point's work directory) and
# writes its results there, in out.json: energy = rho * sigma, trace = [rho, sigma, point].
echo "stand-in code 1.0 starting"
rho=$(sed -n 's/^ *rho *= *//p' "$1")
sigma=$(sed -n 's/^ *sigma *= *//p' "$1")
point=$(sed -n 's/^ *point *= *//p' "$1")
for step in 1 2 3; do echo "step $step: residual 1e-$step"; done
awk -v rho="$rho" -v sigma="$sigma" -v point="$point" 'BEGIN {
  printf "{\"energy\": %.17g, \"trace\": [%.17g, %.17g, %d]}\n", rho * sigma, rho, sigma, point
}' > out.json
echo "done"
