/* Semihosting operations: r0 holds the operation number, r1 a pointer to its argument block. */
#include "ek_semihost.h"

#include <stdint.h>

enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06,
       SYS_FLEN = 0x0C, SYS_EXIT_EXTENDED = 0x20 };
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uintptr_t semihost(uintptr_t op, const void *args) {
  register uintptr_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = args;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static size_t length(const char *text) {
  size_t n = 0;
  while (text[n] != '\0') ++n;
  return n;
}

int ek_sh_open(const char *path, int mode) {
  uintptr_t args[3] = {(uintptr_t)path, (uintptr_t)mode, length(path)};
  return (int)(intptr_t)semihost(SYS_OPEN, args);
}

int ek_sh_close(int handle) {
  uintptr_t args[1] = {(uintptr_t)handle};
  return (int)(intptr_t)semihost(SYS_CLOSE, args);
}

long ek_sh_read(int handle, void *buffer, size_t bytes) {
  uintptr_t args[3] = {(uintptr_t)handle, (uintptr_t)buffer, bytes};
  uintptr_t left = semihost(SYS_READ, args); /* bytes NOT read */
  return left > bytes ? -1 : (long)(bytes - left);
}

int ek_sh_write(int handle, const void *buffer, size_t bytes) {
  uintptr_t args[3] = {(uintptr_t)handle, (uintptr_t)buffer, bytes};
  return semihost(SYS_WRITE, args) == 0 ? 0 : -1;
}

void ek_sh_puts(const char *text) { semihost(SYS_WRITE0, text); }

void ek_sh_exit(int status) {
  uintptr_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)status};
  semihost(SYS_EXIT_EXTENDED, args);
  for (;;) {
  }
}
