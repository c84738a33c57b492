/*
 * p11shim.c: a PKCS#11 module that forwards every call to another module
 * (the path in $P11SHIM_MODULE, e.g. SoftHSM) and injects faults that the
 * tests control through the environment:
 *
 *   P11SHIM_LOG=FILE     append one line per intercepted call to FILE
 *                        ("C_Initialize", "C_Login 1", "C_SignInit 0x1041",
 *                        "C_Sign", "C_Sign done 0x0", "block C_Sign", ...)
 *   P11SHIM_BLOCK=NAME   block on entry to NAME (C_Login, C_SignInit, C_Sign,
 *                        C_OpenSession, C_GetSlotList or C_FindObjectsInit):
 *                        the call logs "block NAME" and then waits, before
 *                        it reaches the real module, until the FIFO named by
 *   P11SHIM_GATE=FIFO    is opened for writing and closed by the test (then
 *                        the call goes on); without a gate it never returns.
 *                        P11SHIM_BLOCK=@FILE reads NAME from FILE at each
 *                        C_Initialize instead (no file: no block), so that
 *                        a test can arm the block for later processes
 *   P11SHIM_HIDE=LIST    comma-separated mechanism numbers (0x1041,0x1044)
 *                        that C_GetMechanismList leaves out, and that
 *                        C_GetMechanismInfo and C_SignInit refuse with
 *                        CKR_MECHANISM_INVALID
 *   P11SHIM_NOISE=1      print to stdout and stderr (printf and write) when
 *                        loaded, in C_GetFunctionList and in C_Initialize
 *   P11SHIM_ECDSA_HASH=1 offer CKM_ECDSA_SHA256/384/512 (SoftHSM 2.6 has only
 *                        CKM_ECDSA): C_Sign hashes the message with the real
 *                        module's C_Digest, on a session of its own, and
 *                        signs the digest with CKM_ECDSA
 *
 * The variables are read in C_GetFunctionList (the module and the noise)
 * and in C_Initialize (the rest). Built at test time with
 * gcc -shared -fPIC -o libp11shim.so p11shim.c -ldl (see internal/e2e).
 *
 * No PKCS#11 header is needed: CK_FUNCTION_LIST is a CK_VERSION (two bytes)
 * followed by 68 function pointers in the order of PKCS#11 v2.40.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;

#define CKR_OK 0x0UL
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_MECHANISM_INVALID 0x70UL
#define CKR_BUFFER_TOO_SMALL 0x150UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKM_ECDSA 0x1041UL
#define CKM_ECDSA_SHA256 0x1044UL
#define CKM_ECDSA_SHA384 0x1045UL
#define CKM_ECDSA_SHA512 0x1046UL
#define CKM_SHA256 0x250UL
#define CKM_SHA384 0x260UL
#define CKM_SHA512 0x270UL

typedef struct {
	CK_ULONG slot, state, flags, device_error;
} CK_SESSION_INFO;

typedef struct {
	CK_ULONG mechanism;
	void *parameter;
	CK_ULONG parameter_len;
} CK_MECHANISM;

struct function_list {
	unsigned char major, minor;
	void *fn[68];
};

/* Indexes into function_list.fn. */
enum {
	F_INITIALIZE = 0,
	F_FINALIZE = 1,
	F_GET_SLOT_LIST = 4,
	F_GET_MECHANISM_LIST = 7,
	F_GET_MECHANISM_INFO = 8,
	F_OPEN_SESSION = 12,
	F_CLOSE_SESSION = 13,
	F_GET_SESSION_INFO = 15,
	F_LOGIN = 18,
	F_FIND_OBJECTS_INIT = 26,
	F_DIGEST_INIT = 37,
	F_DIGEST = 38,
	F_SIGN_INIT = 42,
	F_SIGN = 43,
};

#define MAX_HIDDEN 32

static struct function_list wrapped;
static struct function_list *real;
static char log_path[4096];
static char gate_path[4096];
static char block_name[64];
static CK_ULONG hidden[MAX_HIDDEN];
static int n_hidden;
static int noisy;
static int ecdsa_hash;

/* The emulated CKM_ECDSA_SHA* operation of each session: the digest
 * mechanism, 0 when none. */
#define MAX_SESSIONS 64
static struct {
	CK_ULONG session, digest;
} hashing[MAX_SESSIONS];

static void noise(const char *where) {
	if (!noisy)
		return;
	printf("P11SHIM-NOISE stdout: %s\n", where);
	fflush(stdout);
	fprintf(stderr, "P11SHIM-NOISE stderr: %s\n", where);
	(void)!write(1, "P11SHIM-NOISE fd1\n", 18);
	(void)!write(2, "P11SHIM-NOISE fd2\n", 18);
}

__attribute__((constructor)) static void loaded(void) {
	const char *n = getenv("P11SHIM_NOISE");
	noisy = n != NULL && *n != '\0';
	noise("loaded");
}

/* shim_log appends one line to the log with a single write (O_APPEND). */
static void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shim_log(const char *fmt, ...) {
	char line[256];
	va_list ap;
	int n, fd;

	if (log_path[0] == '\0')
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

/* maybe_block waits at the gate when name is the blocked function. */
static void maybe_block(const char *name) {
	char buf[16];
	int fd;

	if (strcmp(name, block_name) != 0)
		return;
	shim_log("block %s", name);
	if (gate_path[0] == '\0') {
		for (;;)
			pause();
	}
	fd = open(gate_path, O_RDONLY | O_CLOEXEC); /* waits for a writer */
	if (fd >= 0) {
		while (read(fd, buf, sizeof buf) > 0) {
		}
		close(fd);
	}
	shim_log("unblock %s", name);
}

static int is_hidden(CK_ULONG m) {
	for (int i = 0; i < n_hidden; i++)
		if (hidden[i] == m)
			return 1;
	return 0;
}

static void copy_env(char *dst, size_t size, const char *name) {
	const char *v = getenv(name);
	dst[0] = '\0';
	if (v != NULL && strlen(v) < size)
		strcpy(dst, v);
}

static void read_config(void) {
	char list[1024], *p, *end;

	copy_env(log_path, sizeof log_path, "P11SHIM_LOG");
	copy_env(gate_path, sizeof gate_path, "P11SHIM_GATE");
	copy_env(block_name, sizeof block_name, "P11SHIM_BLOCK");
	if (block_name[0] == '@') {
		char path[4096];
		int fd;
		ssize_t n = 0;
		snprintf(path, sizeof path, "%s", block_name + 1);
		block_name[0] = '\0';
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, block_name, sizeof block_name - 1);
			close(fd);
		}
		block_name[n > 0 ? n : 0] = '\0';
		block_name[strcspn(block_name, "\r\n")] = '\0';
	}
	copy_env(list, sizeof list, "P11SHIM_ECDSA_HASH");
	ecdsa_hash = list[0] != '\0';
	memset(hashing, 0, sizeof hashing);
	copy_env(list, sizeof list, "P11SHIM_HIDE");
	n_hidden = 0;
	for (p = list; *p != '\0' && n_hidden < MAX_HIDDEN;) {
		CK_ULONG m = strtoul(p, &end, 0);
		if (end == p)
			break;
		hidden[n_hidden++] = m;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
}

#define REAL(i, type) ((type)real->fn[i])

static CK_RV shim_initialize(void *args) {
	CK_RV rv;
	read_config();
	noise("C_Initialize");
	shim_log("C_Initialize");
	rv = REAL(F_INITIALIZE, CK_RV (*)(void *))(args);
	shim_log("C_Initialize done 0x%lx", rv);
	return rv;
}

static CK_RV shim_finalize(void *reserved) {
	shim_log("C_Finalize");
	return REAL(F_FINALIZE, CK_RV (*)(void *))(reserved);
}

static CK_RV shim_get_slot_list(unsigned char present, CK_ULONG *list, CK_ULONG *count) {
	maybe_block("C_GetSlotList");
	return REAL(F_GET_SLOT_LIST, CK_RV (*)(unsigned char, CK_ULONG *, CK_ULONG *))(present, list, count);
}

static CK_RV shim_get_mechanism_list(CK_ULONG slot, CK_ULONG *list, CK_ULONG *count) {
	CK_ULONG n = 0, i, kept = 0, *all;
	CK_RV rv;

	shim_log("C_GetMechanismList");
	rv = REAL(F_GET_MECHANISM_LIST, CK_RV (*)(CK_ULONG, CK_ULONG *, CK_ULONG *))(slot, NULL, &n);
	if (rv != CKR_OK)
		return rv;
	all = calloc(n + 4, sizeof *all);
	if (all == NULL)
		return CKR_GENERAL_ERROR;
	rv = REAL(F_GET_MECHANISM_LIST, CK_RV (*)(CK_ULONG, CK_ULONG *, CK_ULONG *))(slot, all, &n);
	if (rv == CKR_OK) {
		if (ecdsa_hash) {
			all[n++] = CKM_ECDSA_SHA256;
			all[n++] = CKM_ECDSA_SHA384;
			all[n++] = CKM_ECDSA_SHA512;
		}
		for (i = 0; i < n; i++)
			if (!is_hidden(all[i]))
				all[kept++] = all[i];
		if (list != NULL && *count < kept)
			rv = CKR_BUFFER_TOO_SMALL;
		else if (list != NULL)
			memcpy(list, all, kept * sizeof *all);
		*count = kept;
	}
	free(all);
	return rv;
}

/* emulated_digest returns the digest mechanism of an emulated
 * CKM_ECDSA_SHA* mechanism, or 0. */
static CK_ULONG emulated_digest(CK_ULONG m) {
	if (!ecdsa_hash)
		return 0;
	switch (m) {
	case CKM_ECDSA_SHA256:
		return CKM_SHA256;
	case CKM_ECDSA_SHA384:
		return CKM_SHA384;
	case CKM_ECDSA_SHA512:
		return CKM_SHA512;
	}
	return 0;
}

static CK_RV shim_get_mechanism_info(CK_ULONG slot, CK_ULONG type, void *info) {
	if (is_hidden(type))
		return CKR_MECHANISM_INVALID;
	if (emulated_digest(type) != 0)
		type = CKM_ECDSA;
	return REAL(F_GET_MECHANISM_INFO, CK_RV (*)(CK_ULONG, CK_ULONG, void *))(slot, type, info);
}

static CK_RV shim_open_session(CK_ULONG slot, CK_ULONG flags, void *app, void *notify, CK_ULONG *session) {
	maybe_block("C_OpenSession");
	return REAL(F_OPEN_SESSION, CK_RV (*)(CK_ULONG, CK_ULONG, void *, void *, CK_ULONG *))(slot, flags, app, notify, session);
}

static CK_RV shim_login(CK_ULONG session, CK_ULONG user, unsigned char *pin, CK_ULONG pin_len) {
	CK_RV rv;
	shim_log("C_Login %lu", user);
	maybe_block("C_Login");
	rv = REAL(F_LOGIN, CK_RV (*)(CK_ULONG, CK_ULONG, unsigned char *, CK_ULONG))(session, user, pin, pin_len);
	shim_log("C_Login done 0x%lx", rv);
	return rv;
}

static CK_RV shim_find_objects_init(CK_ULONG session, void *tmpl, CK_ULONG count) {
	maybe_block("C_FindObjectsInit");
	return REAL(F_FIND_OBJECTS_INIT, CK_RV (*)(CK_ULONG, void *, CK_ULONG))(session, tmpl, count);
}

static int hashing_slot(CK_ULONG session) {
	int free_slot = -1;
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (hashing[i].digest != 0 && hashing[i].session == session)
			return i;
		if (hashing[i].digest == 0 && free_slot < 0)
			free_slot = i;
	}
	return free_slot;
}

static CK_RV shim_sign_init(CK_ULONG session, CK_MECHANISM *mech, CK_ULONG key) {
	CK_MECHANISM raw = {CKM_ECDSA, NULL, 0};
	CK_ULONG digest;
	CK_RV rv;
	int i;

	shim_log("C_SignInit 0x%lx", mech != NULL ? mech->mechanism : 0UL);
	maybe_block("C_SignInit");
	if (mech != NULL && is_hidden(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	digest = mech != NULL ? emulated_digest(mech->mechanism) : 0;
	if ((i = hashing_slot(session)) >= 0 && hashing[i].session == session)
		hashing[i].digest = 0; /* a new operation replaces the old one */
	if (digest == 0)
		return REAL(F_SIGN_INIT, CK_RV (*)(CK_ULONG, CK_MECHANISM *, CK_ULONG))(session, mech, key);
	if ((i = hashing_slot(session)) < 0)
		return CKR_GENERAL_ERROR;
	rv = REAL(F_SIGN_INIT, CK_RV (*)(CK_ULONG, CK_MECHANISM *, CK_ULONG))(session, &raw, key);
	if (rv == CKR_OK) {
		hashing[i].session = session;
		hashing[i].digest = digest;
	}
	return rv;
}

/* digest_message hashes data with the real module on a session of its
 * own (the signing session has its operation active). */
static CK_RV digest_message(CK_ULONG session, CK_ULONG digest, unsigned char *data, CK_ULONG len, unsigned char *out, CK_ULONG *out_len) {
	CK_SESSION_INFO info;
	CK_MECHANISM m = {digest, NULL, 0};
	CK_ULONG h;
	CK_RV rv;

	rv = REAL(F_GET_SESSION_INFO, CK_RV (*)(CK_ULONG, CK_SESSION_INFO *))(session, &info);
	if (rv != CKR_OK)
		return rv;
	rv = REAL(F_OPEN_SESSION, CK_RV (*)(CK_ULONG, CK_ULONG, void *, void *, CK_ULONG *))(info.slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
	if (rv != CKR_OK)
		return rv;
	rv = REAL(F_DIGEST_INIT, CK_RV (*)(CK_ULONG, CK_MECHANISM *))(h, &m);
	if (rv == CKR_OK)
		rv = REAL(F_DIGEST, CK_RV (*)(CK_ULONG, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *))(h, data, len, out, out_len);
	REAL(F_CLOSE_SESSION, CK_RV (*)(CK_ULONG))(h);
	return rv;
}

static CK_RV shim_sign(CK_ULONG session, unsigned char *data, CK_ULONG len, unsigned char *sig, CK_ULONG *sig_len) {
	CK_RV rv;
	int i;
	if (sig == NULL) /* the length query */
		return REAL(F_SIGN, CK_RV (*)(CK_ULONG, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *))(session, data, len, sig, sig_len);
	shim_log("C_Sign");
	maybe_block("C_Sign");
	i = hashing_slot(session);
	if (i >= 0 && hashing[i].digest != 0 && hashing[i].session == session) {
		unsigned char digest[64];
		CK_ULONG digest_len = sizeof digest, mech = hashing[i].digest;
		hashing[i].digest = 0; /* C_Sign ends the operation */
		rv = digest_message(session, mech, data, len, digest, &digest_len);
		if (rv == CKR_OK)
			rv = REAL(F_SIGN, CK_RV (*)(CK_ULONG, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *))(session, digest, digest_len, sig, sig_len);
	} else {
		rv = REAL(F_SIGN, CK_RV (*)(CK_ULONG, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *))(session, data, len, sig, sig_len);
	}
	shim_log("C_Sign done 0x%lx", rv);
	return rv;
}

CK_RV C_GetFunctionList(struct function_list **out) {
	const char *path = getenv("P11SHIM_MODULE");
	void *h;
	CK_RV (*get)(struct function_list **);
	CK_RV rv;

	noise("C_GetFunctionList");
	if (path == NULL || (h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return CKR_GENERAL_ERROR;
	get = (CK_RV (*)(struct function_list **))dlsym(h, "C_GetFunctionList");
	if (get == NULL)
		return CKR_GENERAL_ERROR;
	if ((rv = get(&real)) != CKR_OK)
		return rv;
	memcpy(&wrapped, real, sizeof wrapped);
	wrapped.fn[F_INITIALIZE] = (void *)shim_initialize;
	wrapped.fn[F_FINALIZE] = (void *)shim_finalize;
	wrapped.fn[F_GET_SLOT_LIST] = (void *)shim_get_slot_list;
	wrapped.fn[F_GET_MECHANISM_LIST] = (void *)shim_get_mechanism_list;
	wrapped.fn[F_GET_MECHANISM_INFO] = (void *)shim_get_mechanism_info;
	wrapped.fn[F_OPEN_SESSION] = (void *)shim_open_session;
	wrapped.fn[F_LOGIN] = (void *)shim_login;
	wrapped.fn[F_FIND_OBJECTS_INIT] = (void *)shim_find_objects_init;
	wrapped.fn[F_SIGN_INIT] = (void *)shim_sign_init;
	wrapped.fn[F_SIGN] = (void *)shim_sign;
	*out = &wrapped;
	return CKR_OK;
}
