/* Parallel loops of LLVM-built kernels on Linux targets: TVM's backend API over a small pthread pool.
 *
 * A kernel scheduled with --threads > 1 turns its parallel loop into a lambda and calls
 * TVMBackendParallelLaunch(lambda, closure, 0) through the `__TVMBackendParallelLaunch` pointer;
 * the lambda runs once per task id 0..num_task-1 and splits the loop by `penv->num_task`.
 * The caller runs task 0 and waits for the pool's workers to run the others; workers start on
 * first use and between launches poll briefly, then sleep on a condition variable. With one
 * thread (or a nested launch from inside a task) the lambda runs inline and no thread is created.
 * Microcontroller bundles never link this file. */
#include <pthread.h>
#include <stdatomic.h>

#include "ek_model_api.h"
#include "ek_runtime.h"

#ifndef EK_DEFAULT_THREADS
#define EK_DEFAULT_THREADS 1 /* the artifact writer sets the compile-time --threads */
#endif
/* Polls before sleeping: a kernel launches one parallel loop after another, and waking a sleeping
 * thread costs tens of microseconds, more than many of those loops take. But polling steals the
 * core from the awaited thread when there are more threads than free cores, so each thread halves
 * its polls after a wait they did not cover and doubles them after one they did. */
#define EK_SPIN_MIN 64
#define EK_SPIN_MAX 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
  __asm__ __volatile__("yield");
#endif
}

/* LLVM-built kernels reach the launcher through these pointers (weak: only kernels with parallel
 * loops define them); they are filled when the library is loaded. */
extern ek_parallel_launch_fn __TVMBackendParallelLaunch __attribute__((weak));
extern ek_parallel_barrier_fn __TVMBackendParallelBarrier __attribute__((weak));

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;    /* workers: a new launch (generation) began */
  pthread_cond_t done;    /* caller: the last worker task finished */
  pthread_cond_t barrier; /* tasks: the barrier opened */
  atomic_int num_threads; /* read by launches without the lock */
  int workers; /* started so far; worker w runs task w + 1 */
  atomic_uint generation; /* written under the lock; polled without it */
  ek_parallel_lambda_fn lambda;
  void *closure;
  ek_parallel_env_t env;
  atomic_int pending; /* worker tasks of this launch still running */
  int failed;
  int busy; /* a launch is in flight: another caller's launch runs inline */
  int barrier_waiting;
  unsigned barrier_generation;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, EK_DEFAULT_THREADS, 0, 0, NULL, NULL, {NULL, 0}, 0, 0, 0, 0, 0};

static int run_inline(ek_parallel_lambda_fn lambda, void *closure) {
  ek_parallel_env_t env = {NULL, 1};
  return lambda(0, &env, closure) == 0 ? 0 : -1;
}

static _Thread_local int inside_task;
static _Thread_local int spin_polls = EK_SPIN_MAX;

static void run_task(int task_id) {
  inside_task = 1;
  int rc = pool.lambda(task_id, &pool.env, pool.closure);
  inside_task = 0;
  if (rc == 0 && task_id == 0) return;
  pthread_mutex_lock(&pool.lock);
  if (rc != 0) pool.failed = 1;
  if (task_id != 0 && atomic_fetch_sub(&pool.pending, 1) == 1) pthread_cond_signal(&pool.done);
  pthread_mutex_unlock(&pool.lock);
}

static void adapt_polls(int covered) {
  spin_polls = covered ? (spin_polls < EK_SPIN_MAX / 2 ? 2 * spin_polls : EK_SPIN_MAX)
                       : (spin_polls > 2 * EK_SPIN_MIN ? spin_polls / 2 : EK_SPIN_MIN);
}

/* Polls until `*value` differs from `old` or the polls run out; the caller then waits under the lock. */
static void poll_until_changed(atomic_uint *value, unsigned old) {
  int i = 0;
  for (; i < spin_polls && atomic_load_explicit(value, memory_order_acquire) == old; ++i) cpu_relax();
  adapt_polls(i < spin_polls);
}

static void poll_until_zero(atomic_int *value) {
  int i = 0;
  for (; i < spin_polls && atomic_load_explicit(value, memory_order_acquire) != 0; ++i) cpu_relax();
  adapt_polls(i < spin_polls);
}

static void *worker_main(void *arg) {
  int task_id = (int)(intptr_t)arg + 1;
  unsigned seen = 0;
  for (;;) {
    poll_until_changed(&pool.generation, seen);
    pthread_mutex_lock(&pool.lock);
    while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    seen = pool.generation;
    int needed = task_id < pool.env.num_task; /* a launch may need fewer tasks than there are workers */
    pthread_mutex_unlock(&pool.lock);
    if (needed) run_task(task_id);
  }
  return NULL;
}

/* Starts workers until `num_task` tasks can run at once; returns how many tasks will run (>= 1). */
static int ensure_workers(int num_task) {
  while (pool.workers < num_task - 1) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker_main, (void *)(intptr_t)pool.workers) != 0) break;
    pthread_detach(thread);
    pool.workers++;
  }
  return pool.workers + 1 < num_task ? pool.workers + 1 : num_task;
}

EK_OWN int TVMBackendParallelLaunch(ek_parallel_lambda_fn lambda, void *closure, int num_task) {
  int threads = num_task > 0 ? num_task : pool.num_threads;
  if (threads > EK_MAX_THREADS) threads = EK_MAX_THREADS;
  if (threads <= 1 || inside_task) return run_inline(lambda, closure);
  pthread_mutex_lock(&pool.lock);
  if (pool.busy) {
    pthread_mutex_unlock(&pool.lock);
    return run_inline(lambda, closure);
  }
  pool.busy = 1;
  threads = ensure_workers(threads); /* fewer when the system refuses threads: tasks split the loop */
  pool.lambda = lambda;
  pool.closure = closure;
  pool.env.sync_handle = &pool;
  pool.env.num_task = threads;
  pool.pending = threads - 1;
  pool.failed = 0;
  pool.generation++;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  run_task(0);
  poll_until_zero(&pool.pending);
  pthread_mutex_lock(&pool.lock);
  while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.lock);
  int failed = pool.failed;
  pool.busy = 0;
  pthread_mutex_unlock(&pool.lock);
  return failed ? -1 : 0;
}

EK_OWN int TVMBackendParallelBarrier(int task_id, ek_parallel_env_t *env) {
  (void)task_id;
  if (env->num_task <= 1) return 0;
  pthread_mutex_lock(&pool.lock);
  unsigned generation = pool.barrier_generation;
  if (++pool.barrier_waiting == env->num_task) {
    pool.barrier_waiting = 0;
    pool.barrier_generation++;
    pthread_cond_broadcast(&pool.barrier);
  } else {
    while (generation == pool.barrier_generation) pthread_cond_wait(&pool.barrier, &pool.lock);
  }
  pthread_mutex_unlock(&pool.lock);
  return 0;
}

int ek_set_num_threads(int num_threads) {
  if (num_threads < 1 || num_threads > EK_MAX_THREADS) return -1;
  pthread_mutex_lock(&pool.lock);
  int previous = pool.num_threads;
  pool.num_threads = num_threads;
  pthread_mutex_unlock(&pool.lock);
  return previous;
}

int ek_get_num_threads(void) { return pool.num_threads; }

__attribute__((constructor)) static void install_parallel_hooks(void) {
  if (&__TVMBackendParallelLaunch) __TVMBackendParallelLaunch = TVMBackendParallelLaunch;
  if (&__TVMBackendParallelBarrier) __TVMBackendParallelBarrier = TVMBackendParallelBarrier;
}
