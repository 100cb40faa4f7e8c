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
** so a program that only sets OpenBLAS threads still drives both.
** While a parallel region runs, OpenBLAS is switched to one thread: each
** worker calls sgemm on its own small product, and OpenBLAS's pool under
** two concurrent callers would only contend for the same cores.
*/
#include <pthread.h>
#include <stdint.h>
#include <cblas.h>

#include "rt.h"
#include "rt_par.h"


static int rt_threads_req;   /* 0: follow OpenBLAS */

void rt_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > RT_MAX_THREADS) n = RT_MAX_THREADS;
    rt_threads_req = n;
    openblas_set_num_threads(n);
}

int rt_get_threads(void) {
    int n = rt_threads_req > 0 ? rt_threads_req : openblas_get_num_threads();
    if (n < 1) n = 1;
    return n > RT_MAX_THREADS ? RT_MAX_THREADS : n;
}

/* {====================================================================
** Persistent pool: workers 1..nworkers sleep on 'go' until the generation
** counter moves, run their part, and the last one to finish signals 'done'.
** Part 0 always runs on the calling thread.
** ===================================================================== */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
/* Serialises whole regions, should two application threads call kernels. */
static pthread_mutex_t region_mu = PTHREAD_MUTEX_INITIALIZER;
static int nworkers;
static unsigned long gen;
static RtParFn job_fn;
static void *job_arg;
static int job_nt, job_workers, pending;   /* parts, workers in use */

static void *worker_main(void *p) {
    int id = (int)(intptr_t)p;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool_mu);
    for (;;) {
        while (gen == seen) pthread_cond_wait(&pool_go, &pool_mu);
        seen = gen;
        if (id > job_workers) continue;
        RtParFn fn = job_fn;
        void *arg = job_arg;
        int nt = job_nt;
        pthread_mutex_unlock(&pool_mu);
        fn(arg, id, nt);
        pthread_mutex_lock(&pool_mu);
        if (--pending == 0) pthread_cond_signal(&pool_done);
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
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    pthread_mutex_lock(&pool_mu);
    int have = grow_pool(nt - 1);
    /* Parts without a worker (thread creation failed) run here after part
    ** 0; the partition still has nt parts, so results do not change. */
    int spawned = have < nt - 1 ? have : nt - 1;
    job_fn = fn;
    job_arg = arg;
    job_nt = nt;
    job_workers = spawned;
    pending = spawned;
    gen++;
    pthread_cond_broadcast(&pool_go);
    pthread_mutex_unlock(&pool_mu);

    fn(arg, 0, nt);
    for (int t = spawned + 1; t < nt; t++) fn(arg, t, nt);

    pthread_mutex_lock(&pool_mu);
    while (pending > 0) pthread_cond_wait(&pool_done, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
    openblas_set_num_threads(blas);
    pthread_mutex_unlock(&region_mu);
}

/* }==================================================================== */
