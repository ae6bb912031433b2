#!/bin/sh
# driver_smoke.sh BUILD: the host driver runs the test model on two zero samples (44 bytes in and
# out each) and refuses a truncated input file with a message naming the step and the sample.
set -eu
b=$1
head -c 88 /dev/zero >"$b/in.bin"
"$b/ek_driver" "$b/libmodel_ok.so" "$b/in.bin" "$b/out.bin" 2
test "$(wc -c <"$b/out.bin")" -eq 88
head -c 80 /dev/zero >"$b/short.bin"
if "$b/ek_driver" "$b/libmodel_ok.so" "$b/short.bin" "$b/out.bin" 2 2>"$b/err.txt"; then
  echo "driver accepted a truncated input file" >&2
  exit 1
fi
grep -q "^ek_driver: input: input file ended in sample 1, input 1: got 4 of 12 bytes$" "$b/err.txt"
echo "driver smoke: ok"
