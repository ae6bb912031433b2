/* The platform port: what the runtime needs from the board. Each has a weak default in
 * port/ek_port_default.c; define your own to override (e.g. log to a UART). */
#ifndef EK_PORT_H
#define EK_PORT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called with a short NUL-terminated message when a run fails. Default: does nothing. */
void ek_port_log(const char *message);
/* A free-running cycle or tick counter for benchmarks. Default: 0. */
uint64_t ek_port_cycles(void);

#ifdef __cplusplus
}
#endif
#endif
