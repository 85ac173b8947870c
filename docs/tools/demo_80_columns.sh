#!/bin/sh
# Record `imu demo` in an 80-column terminal (tmux) and keep what the screen showed every
# few seconds: the status line must stay on one line, redrawn in place.
#   docs/tools/demo_80_columns.sh [OUT.txt]        (needs tmux: apt-get install tmux)
set -eu
out=${1:-demo-80-columns.txt}
work=$(mktemp -d)
imu=${IMU:-imu}
tmux new-session -d -s imu-demo-80 -x 80 -y 24 \
    "cd $work && IMU_HOME=$work/home $imu demo -o $work/demo.imu; echo '[demo exited]'; sleep 30"
: > "$out"
for i in $(seq 1 120); do
    sleep 3
    screen=$(tmux capture-pane -t imu-demo-80 -p 2>/dev/null) || break
    printf '=== after %s s ===\n%s\n' "$((i * 3))" "$screen" | sed '/^$/d' >> "$out"
    case "$screen" in *"[demo exited]"*) break ;; esac
done
tmux kill-session -t imu-demo-80 2>/dev/null || true
rm -rf "$work"
echo "wrote $out"
