/* _billow_keep_arenas: CPython 3.11's arena allocator, with the blocks it frees kept for reuse.

   CPython takes two kinds of memory from its "arena allocator" (PyObject_SetArenaAllocator), by default
   straight from the kernel with mmap and given back with munmap:
   - the frames' data stack, in chunks of 16 KiB (larger ones in powers of two): a chunk is taken when a
     call goes deeper than the chunks so far hold, and given back as soon as that call returns;
   - pymalloc's arenas of 1 MiB, given back when their last object is freed.
   A test process whose call depth swings across a chunk's edge (botocore + moto + hypothesis + pytest
   stacks are ~100-200 frames deep) maps, touches and unmaps a chunk thousands of times a second: strace
   showed ~3,700 mmap/munmap pairs and ~15,000 page faults a second in the proof simulation, 13-15 % of
   the suite's CPU time in the kernel (docs/performance.md, "The test suite's time").

   This module, imported at startup by a .pth file in the project's venvs (local/keep_arenas.py builds
   both), puts an allocator in front of the one it finds: a freed block of up to 1 MiB is kept (up to
   BILLOW_KEEP_ARENAS_BYTES in all, 64 MiB by default) and handed out again for the next request of the
   same size; everything else goes to the previous allocator, which also frees what it handed out before
   this module was loaded. Neither kind of block is expected to be zeroed by CPython (its arena allocator
   falls back to malloc where mmap is missing). Every call is made with the GIL held; a mutex guards the
   lists all the same. Lambda's Python is not touched: this is the dev venvs only. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdlib.h>

#define MAX_BLOCK ((size_t)1 << 20)
#define SLOTS 1024

static PyObjectArenaAllocator previous;
static void *kept[SLOTS];
static size_t kept_size[SLOTS];
static int kept_count;
static size_t kept_bytes, budget = (size_t)64 << 20;
static unsigned long long reused, fresh, returned;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int installed;

static void *keeping_alloc(void *ctx, size_t size) {
    (void)ctx;
    pthread_mutex_lock(&lock);
    for (int i = kept_count - 1; i >= 0; i--) {
        if (kept_size[i] == size) {
            void *block = kept[i];
            kept_count--;
            kept[i] = kept[kept_count];
            kept_size[i] = kept_size[kept_count];
            kept_bytes -= size;
            reused++;
            pthread_mutex_unlock(&lock);
            return block;
        }
    }
    fresh++;
    pthread_mutex_unlock(&lock);
    return previous.alloc(previous.ctx, size);
}

static void keeping_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    pthread_mutex_lock(&lock);
    if (size <= MAX_BLOCK && kept_count < SLOTS && kept_bytes + size <= budget) {
        kept[kept_count] = ptr;
        kept_size[kept_count] = size;
        kept_count++;
        kept_bytes += size;
        pthread_mutex_unlock(&lock);
        return;
    }
    returned++;
    pthread_mutex_unlock(&lock);
    previous.free(previous.ctx, ptr, size);
}

static void reset_lock_in_child(void) { pthread_mutex_init(&lock, NULL); }

static PyObject *stats(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    pthread_mutex_lock(&lock);
    PyObject *out = Py_BuildValue("{s:K,s:K,s:K,s:n,s:n,s:n}", "reused", reused, "fresh", fresh, "returned",
                                  returned, "kept_blocks", (Py_ssize_t)kept_count, "kept_bytes",
                                  (Py_ssize_t)kept_bytes, "budget", (Py_ssize_t)budget);
    pthread_mutex_unlock(&lock);
    return out;
}

static PyMethodDef methods[] = {
    {"stats", stats, METH_NOARGS, "Blocks reused, taken fresh, given back; what is kept now, and the budget."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_billow_keep_arenas",
                                    "CPython's arena allocator with freed blocks kept for reuse.", -1, methods};

PyMODINIT_FUNC PyInit__billow_keep_arenas(void) {
    if (!installed) {
        const char *bytes = getenv("BILLOW_KEEP_ARENAS_BYTES");
        if (bytes != NULL && *bytes != '\0') {
            budget = (size_t)strtoull(bytes, NULL, 10);
        }
        PyObject_GetArenaAllocator(&previous);
        PyObjectArenaAllocator keeping = {NULL, keeping_alloc, keeping_free};
        PyObject_SetArenaAllocator(&keeping);
        pthread_atfork(NULL, NULL, reset_lock_in_child);
        installed = 1;
    }
    return PyModule_Create(&module);
}
