/* Arm semihosting calls (BKPT 0xAB on M-profile): file I/O and exit through the debugger or
 * emulator, with no C library. Used by the QEMU test firmware and the examples. */
#ifndef EK_SEMIHOST_H
#define EK_SEMIHOST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { EK_SH_READ = 1, EK_SH_WRITE = 5 }; /* ek_sh_open modes: "rb" and "wb" */

/* A host file handle (>= 0), or -1. Paths are relative to the emulator's working directory. */
int ek_sh_open(const char *path, int mode);
int ek_sh_close(int handle);
/* Bytes actually read (0 at end of file), or -1. */
long ek_sh_read(int handle, void *buffer, size_t bytes);
/* 0 when all bytes were written. */
int ek_sh_write(int handle, const void *buffer, size_t bytes);
/* Writes a NUL-terminated string to the host console. */
void ek_sh_puts(const char *text);
/* Ends the program with an exit status the emulator returns. */
void ek_sh_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif
#endif
