/*
 * noisy.c: a PKCS#11 module that wraps another one (the path in
 * $NOISY_PKCS11_MODULE, e.g. SoftHSM) and prints to stdout and stderr when it
 * is loaded, when C_GetFunctionList is called and in C_Initialize, as some
 * vendor modules do. The tests load it to prove that nothing a module prints
 * reaches the command's output. Built at test time with
 * gcc -shared -fPIC -o libnoisy.so noisy.c -ldl.
 *
 * No PKCS#11 header is needed: CK_FUNCTION_LIST is a CK_VERSION (two
 * bytes) followed by function pointers, C_Initialize first.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long CK_RV;
typedef CK_RV (*init_fn)(void *);

struct function_list {
	unsigned char major, minor;
	void *fn[68]; /* PKCS#11 v2.40 has 68 functions */
};

static struct function_list wrapped;
static init_fn real_initialize;

static void noise(const char *where) {
	printf("NOISY-MODULE stdout: %s\n", where);
	fflush(stdout);
	fprintf(stderr, "NOISY-MODULE stderr: %s\n", where);
	(void)!write(1, "NOISY-MODULE fd1\n", 17);
	(void)!write(2, "NOISY-MODULE fd2\n", 17);
}

__attribute__((constructor)) static void loaded(void) { noise("loaded"); }

static CK_RV noisy_initialize(void *args) {
	noise("C_Initialize");
	return real_initialize(args);
}

CK_RV C_GetFunctionList(struct function_list **out) {
	const char *path = getenv("NOISY_PKCS11_MODULE");
	void *h;
	CK_RV (*get)(struct function_list **);
	struct function_list *real;
	CK_RV rv;

	noise("C_GetFunctionList");
	if (path == NULL || (h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return 5; /* CKR_GENERAL_ERROR */
	get = (CK_RV (*)(struct function_list **))dlsym(h, "C_GetFunctionList");
	if (get == NULL)
		return 5;
	if ((rv = get(&real)) != 0)
		return rv;
	memcpy(&wrapped, real, sizeof wrapped);
	real_initialize = (init_fn)real->fn[0];
	wrapped.fn[0] = (void *)noisy_initialize;
	*out = &wrapped;
	return 0;
}
