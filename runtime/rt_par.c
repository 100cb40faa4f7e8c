/*
** rt_par.c: the runtime's worker threads.
**
** Kernels split their work into nt parts with a partition that depends only
** on nt (never on timing), and every output element is written by exactly
** one part, so a result depends at most on the thread count and is
** bit-identical from run to run. The pool is plain pthreads, which every
** program linking the runtime already links for OpenBLAS; an OpenMP runtime
** would add a link flag to every consumer of libskipcrt.a.
**
** Thread count: rt_set_threads(n) when called, otherwise OpenBLAS's own
** count (what openblas_set_num_threads or OPENBLAS_NUM_THREADS asked for),
** so a program that only sets OpenBLAS threads still drives both; without
** OpenBLAS (RT_NO_BLAS) one, so no thread starts unless asked.
** While a parallel region runs, OpenBLAS is switched to one thread: each
** worker calls sgemm on its own small product, and OpenBLAS's pool under
** two concurrent callers would only contend for the same cores.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "rt.h"
#include "rt_gemm.h"
#include "rt_par.h"


static int rt_threads_req;   /* 0: follow OpenBLAS */

void rt_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > RT_MAX_THREADS) n = RT_MAX_THREADS;
    rt_threads_req = n;
    rt_blas_set_threads(n);
}

int rt_get_threads(void) {
    int n = rt_threads_req > 0 ? rt_threads_req : rt_blas_threads();
    if (n < 1) n = 1;
    return n > RT_MAX_THREADS ? RT_MAX_THREADS : n;
}

/* {====================================================================
** Persistent pool: workers 1..nworkers wait for the generation counter to
** move, run their part (if the region has one for them), and count
** 'pending' down. Part 0 always runs on the calling thread.
**
** Waiting spins first and sleeps after: a region of a network's layer takes
** from microseconds to milliseconds, and a condition-variable wake costs
** about 20 us on a virtual machine, as much as a small layer. So a worker
** polls the counter for up to SPIN_NS before it sleeps on 'go', and the
** caller polls 'pending' as long before it sleeps on 'done'; a sleeper is
** only woken when one is known to sleep ('sleepers', 'caller_sleeps'),
** which is decided under pool_mu, so no wake-up is lost.
** ===================================================================== */

#define SPIN_NS 100000L

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
/* Serialises whole regions, should two application threads call kernels. */
static pthread_mutex_t region_mu = PTHREAD_MUTEX_INITIALIZER;
static int nworkers, sleepers, caller_sleeps;
static atomic_ulong gen;
static atomic_int pending;
static RtParFn job_fn;
static void *job_arg;
static int job_nt, job_workers;   /* parts, workers in use */

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Polls for up to SPIN_NS until the generation moves on from seen (a new
** region) or, in spin_done, until no part is pending; returns whether it did. */
static int spin_gen(unsigned long seen) {
    long end = now_ns() + SPIN_NS;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(&gen, memory_order_acquire) != seen) return 1;
        cpu_relax();
        if (i % 256 == 0 && now_ns() > end) return 0;
    }
}

static int spin_done(void) {
    long end = now_ns() + SPIN_NS;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(&pending, memory_order_acquire) == 0) return 1;
        cpu_relax();
        if (i % 256 == 0 && now_ns() > end) return 0;
    }
}

static void *worker_main(void *p) {
    int id = (int)(intptr_t)p;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_gen(seen)) {
            pthread_mutex_lock(&pool_mu);
            sleepers++;
            while (atomic_load(&gen) == seen) pthread_cond_wait(&pool_go, &pool_mu);
            sleepers--;
            pthread_mutex_unlock(&pool_mu);
        }
        seen = atomic_load_explicit(&gen, memory_order_acquire);
        if (id <= job_workers) job_fn(job_arg, id, job_nt);
        if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool_mu);
            if (caller_sleeps) pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_mu);
        }
    }
    return NULL;
}

/* Starts workers up to 'want' (ids 1..want); returns how many exist. */
static int grow_pool(int want) {
    while (nworkers < want) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, worker_main, (void *)(intptr_t)(nworkers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        nworkers++;
    }
    return nworkers;
}

void rt_par_run(RtParFn fn, void *arg, int nt) {
    if (nt <= 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&region_mu);
    int blas = rt_blas_threads();
    if (blas != 1) rt_blas_set_threads(1);
    pthread_mutex_lock(&pool_mu);
    int have = grow_pool(nt - 1);
    /* Parts without a worker (thread creation failed) run here after part
    ** 0; the partition still has nt parts, so results do not change. */
    int spawned = have < nt - 1 ? have : nt - 1;
    job_fn = fn;
    job_arg = arg;
    job_nt = nt;
    job_workers = spawned;
    /* Every worker counts down, even one without a part, so none can still
    ** be reading this region's job when the next one is set up. */
    atomic_store_explicit(&pending, have, memory_order_relaxed);
    atomic_fetch_add_explicit(&gen, 1, memory_order_release);
    if (sleepers) pthread_cond_broadcast(&pool_go);
    pthread_mutex_unlock(&pool_mu);

    fn(arg, 0, nt);
    for (int t = spawned + 1; t < nt; t++) fn(arg, t, nt);

    if (!spin_done()) {
        pthread_mutex_lock(&pool_mu);
        caller_sleeps = 1;
        while (atomic_load(&pending) > 0) pthread_cond_wait(&pool_done, &pool_mu);
        caller_sleeps = 0;
        pthread_mutex_unlock(&pool_mu);
    }
    if (blas != 1) rt_blas_set_threads(blas);
    pthread_mutex_unlock(&region_mu);
}

/* }==================================================================== */
