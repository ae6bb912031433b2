/* Minimal Cortex-M startup for the reference boards as QEMU emulates them: vector table, .data
 * copied from flash, .bss zeroed, FPU/MVE enabled, then main(). A fault ends the program with
 * exit status 128 + exception number instead of hanging the emulator. */
#include <stdint.h>

#include "ek_semihost.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
int main(void);

void ek_reset_handler(void) __attribute__((noreturn));
void ek_fault_handler(void) __attribute__((noreturn));

__attribute__((section(".vectors"), used)) const uintptr_t ek_vectors[16] = {
    (uintptr_t)__stack_top,      (uintptr_t)ek_reset_handler, (uintptr_t)ek_fault_handler,
    (uintptr_t)ek_fault_handler, (uintptr_t)ek_fault_handler, (uintptr_t)ek_fault_handler,
    (uintptr_t)ek_fault_handler, 0u, 0u, 0u, 0u,
    (uintptr_t)ek_fault_handler, (uintptr_t)ek_fault_handler, 0u,
    (uintptr_t)ek_fault_handler, (uintptr_t)ek_fault_handler,
};

void ek_fault_handler(void) {
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  ek_sh_puts("ek_startup: fault, exception number in exit status - 128\n");
  ek_sh_exit(128 + (int)(ipsr & 0x1FFu));
}

void ek_reset_handler(void) {
  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0u;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: full access to CP10/CP11 */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  ek_sh_exit(main());
}
