/* Default platform port: silent log and no timer. Weak, so a board file can replace each one. */
#include "ek_port.h"

__attribute__((weak)) void ek_port_log(const char *message) { (void)message; }

__attribute__((weak)) uint64_t ek_port_cycles(void) { return 0; }
