/* The parallel-loop launcher (src/ek_parallel.c): every task id runs exactly once per launch, on as
 * many threads as asked, the barrier holds every task until all arrived, failures are reported,
 * concurrent callers do not mix their launches, and the `__TVMBackendParallel*` pointers LLVM
 * kernels call through are filled at load. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "ek_model_api.h"
#include "ek_runtime.h"

#define TASK_SLOTS EK_MAX_THREADS

/* What LLVM-built kernels with a parallel loop define; the runtime must point them at itself. */
ek_parallel_launch_fn __TVMBackendParallelLaunch;
ek_parallel_barrier_fn __TVMBackendParallelBarrier;

typedef struct {
  atomic_int runs[TASK_SLOTS];
  atomic_int num_task_seen;
  atomic_int arrived;        /* tasks that reached the barrier */
  atomic_int early_leavers;  /* tasks that passed the barrier before all had arrived */
  pthread_t threads[TASK_SLOTS];
  int fail_task;             /* this task id returns -1 (or -1 for none) */
} record_t;

static void record_reset(record_t *r, int fail_task) {
  for (int i = 0; i < TASK_SLOTS; ++i) atomic_store(&r->runs[i], 0);
  atomic_store(&r->num_task_seen, 0);
  atomic_store(&r->arrived, 0);
  atomic_store(&r->early_leavers, 0);
  r->fail_task = fail_task;
}

static int count_task(int task_id, ek_parallel_env_t *env, void *closure) {
  record_t *r = closure;
  atomic_fetch_add(&r->runs[task_id], 1);
  atomic_store(&r->num_task_seen, env->num_task);
  r->threads[task_id] = pthread_self();
  return task_id == r->fail_task ? -1 : 0;
}

static int barrier_task(int task_id, ek_parallel_env_t *env, void *closure) {
  record_t *r = closure;
  atomic_fetch_add(&r->runs[task_id], 1);
  atomic_fetch_add(&r->arrived, 1);
  TVMBackendParallelBarrier(task_id, env);
  if (atomic_load(&r->arrived) != env->num_task) atomic_fetch_add(&r->early_leavers, 1);
  return 0;
}

static int each_ran_once(record_t *r, int num_task) {
  for (int i = 0; i < TASK_SLOTS; ++i) {
    if (atomic_load(&r->runs[i]) != (i < num_task ? 1 : 0)) return 0;
  }
  return 1;
}

static int distinct_threads(record_t *r, int num_task) {
  for (int i = 0; i < num_task; ++i) {
    for (int j = 0; j < i; ++j) {
      if (pthread_equal(r->threads[i], r->threads[j])) return 0;
    }
  }
  return 1;
}

/* An application thread launching while another launch is in flight: each launch still runs each
 * of its task ids once (the later one inline). */
typedef struct {
  record_t record;
  int bad_launches;
} caller_t;

static void *launch_repeatedly(void *arg) {
  caller_t *c = arg;
  for (int launch = 0; launch < 200; ++launch) {
    record_reset(&c->record, -1);
    if (TVMBackendParallelLaunch(count_task, &c->record, 0) != 0 ||
        !each_ran_once(&c->record, atomic_load(&c->record.num_task_seen))) {
      c->bad_launches++;
    }
  }
  return NULL;
}

int main(void) {
  static record_t r;
  static caller_t callers[2];

  CHECK(__TVMBackendParallelLaunch == TVMBackendParallelLaunch);
  CHECK(__TVMBackendParallelBarrier == TVMBackendParallelBarrier);
  CHECK(ek_get_num_threads() == 1);

  /* One thread: the lambda runs inline, once, in the caller. */
  record_reset(&r, -1);
  CHECK(TVMBackendParallelLaunch(count_task, &r, 0) == 0);
  CHECK(each_ran_once(&r, 1));
  CHECK(atomic_load(&r.num_task_seen) == 1);
  CHECK(pthread_equal(r.threads[0], pthread_self()));

  /* Four threads, repeatedly: tasks 0..3 once each, on four different threads, the caller runs task 0. */
  CHECK(ek_set_num_threads(4) == 1);
  CHECK(ek_get_num_threads() == 4);
  for (int launch = 0; launch < 50; ++launch) {
    record_reset(&r, -1);
    CHECK(TVMBackendParallelLaunch(count_task, &r, 0) == 0);
    CHECK(each_ran_once(&r, 4));
    CHECK(atomic_load(&r.num_task_seen) == 4);
    CHECK(distinct_threads(&r, 4));
    CHECK(pthread_equal(r.threads[0], pthread_self()));
  }

  /* An explicit task count wins over the thread count; fewer tasks leave the other workers idle. */
  record_reset(&r, -1);
  CHECK(TVMBackendParallelLaunch(count_task, &r, 2) == 0);
  CHECK(each_ran_once(&r, 2));
  record_reset(&r, -1);
  CHECK(TVMBackendParallelLaunch(count_task, &r, 6) == 0);
  CHECK(each_ran_once(&r, 6));

  /* The barrier lets no task through before all four arrived. */
  for (int launch = 0; launch < 50; ++launch) {
    record_reset(&r, -1);
    CHECK(TVMBackendParallelLaunch(barrier_task, &r, 4) == 0);
    CHECK(each_ran_once(&r, 4));
    CHECK(atomic_load(&r.early_leavers) == 0);
  }

  /* A failing task fails the launch; the pool still works afterwards. */
  record_reset(&r, 2);
  CHECK(TVMBackendParallelLaunch(count_task, &r, 0) == -1);
  CHECK(each_ran_once(&r, 4));
  record_reset(&r, -1);
  CHECK(TVMBackendParallelLaunch(count_task, &r, 0) == 0);

  /* Two application threads launching at once. */
  pthread_t other;
  CHECK(pthread_create(&other, NULL, launch_repeatedly, &callers[1]) == 0);
  launch_repeatedly(&callers[0]);
  CHECK(pthread_join(other, NULL) == 0);
  CHECK(callers[0].bad_launches == 0);
  CHECK(callers[1].bad_launches == 0);

  /* Counts outside 1..EK_MAX_THREADS are refused and change nothing; back to one thread: inline. */
  CHECK(ek_set_num_threads(0) == -1);
  CHECK(ek_set_num_threads(EK_MAX_THREADS + 1) == -1);
  CHECK(ek_set_num_threads(1) == 4);
  record_reset(&r, -1);
  CHECK(TVMBackendParallelLaunch(count_task, &r, 0) == 0);
  CHECK(each_ran_once(&r, 1));
  CHECK(pthread_equal(r.threads[0], pthread_self()));
  return check_report("test_parallel");
}
