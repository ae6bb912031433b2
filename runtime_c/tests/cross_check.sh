#!/bin/sh
# cross_check.sh OUT KIND CC [FLAGS...]: compiles the runtime warning-free with one cross compiler
# (skipped when not installed) and checks that it needs no C library: the only undefined symbols
# allowed are the model descriptor, the weak workspace hooks, ARM EABI helpers from libgcc and the
# linker-made GOT.
# KIND=linux also builds the parallel-loop launcher (pthreads) and the emulator driver with that compiler; KIND=mcu also the bare-metal helper
# calls of src/ek_libcalls.c and the board files of firmware/ (startup, semihosting).
set -eu
out=$1 kind=$2 cc=$3
shift 3
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "cross: skip $cc (not installed)"
  exit 0
fi
dir=$out/$cc
mkdir -p "$dir"
sources="src/ek_runtime.c src/ek_model_api.c port/ek_port_default.c"
[ "$kind" = mcu ] && sources="$sources src/ek_libcalls.c firmware/ek_startup.c firmware/ek_semihost.c"
objects=
for src in $sources; do
  "$cc" -std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iinclude -Ifirmware "$@" -c "$src" -o "$dir/$(basename "$src" .c).o"
  objects="$objects $dir/$(basename "$src" .c).o"
done
"$cc" -r -nostdlib -o "$dir/runtime.o" $objects
allowed='^(ek_model_desc|_GLOBAL_OFFSET_TABLE_|__TVMBackend(Alloc|Free)Workspace|__aeabi_[a-z0-9_]+|main|__(data|bss)_(start|end)|__data_load|__stack_top)$'
extra=$("${cc%gcc}nm" -u "$dir/runtime.o" | awk '{print $NF}' | grep -Ev "$allowed" || true)
if [ -n "$extra" ]; then
  echo "cross: $cc: the runtime needs C library symbols:" $extra >&2
  exit 1
fi
if [ "$kind" = linux ]; then
  "$cc" -std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iinclude -c src/ek_parallel.c -o "$dir/ek_parallel.o"
  "$cc" -std=c11 -Wall -Wextra -Werror -O2 -o "$dir/ek_driver" driver/ek_driver.c -ldl
fi
echo "cross: $cc ok"
