/* TLS contexts: settings, certificates from the config or a self-signed
 * one, SNI, and the server's current generation. */
#include "core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"

/* TLS 1.2: forward secrecy (ECDHE) and AEAD only, ECDSA before RSA, AES
 * before ChaCha20 unless the client prefers ChaCha20 (phones without AES
 * instructions; SSL_OP_PRIORITIZE_CHACHA).  TLS 1.3's suites are all
 * AEAD with forward secrecy: OpenSSL's defaults stay. */
#define CIPHERS_TLS12                                                       \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"        \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"        \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define GROUPS "X25519:P-256:P-384"
/* One ticket per full handshake: a mail client reconnects one connection
 * at a time, and each ticket costs a record and a signature's worth of
 * CPU.  TLS 1.2 clients without tickets resume from a small cache. */
#define TICKETS 1
#define SESSION_CACHE 1024
#define SELF_SIGNED_DAYS 3650
#define SELF_SIGNED_RENEW_DAYS 30
#define SELF_SIGNED_CERT "self-signed.pem"
#define SELF_SIGNED_KEY "self-signed.key"

struct tls_ctx {
	atomic_uint refs;
	size_t n;
	SSL_CTX *ctx[]; /* [0] is the default; the others are for SNI */
};

struct tls {
	pthread_mutex_t lock;
	struct tls_ctx *cur;
};

/* Each SSL holds a reference to its generation in this ex_data slot, so
 * the generation (its SNI table) lives as long as the last connection
 * made from it, whoever frees what first.  The slot number is set once
 * for the process, like OpenSSL's own. */
static int ssl_gen_index = -1;
static pthread_once_t ssl_gen_once = PTHREAD_ONCE_INIT;

bool tls_configured(const struct config *cfg)
{
	return cfg->tls.cert[0] != '\0';
}

/* The reason of OpenSSL's first error (the cause; the later ones say
 * where it surfaced), and the queue emptied. */
static const char *openssl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r != NULL ? r : "unknown error";
}

/* ---- lists of files ---- */

struct file_list {
	char **items;
	size_t n;
};

/* "a.pem, b.pem" into its items, spaces around each trimmed. */
static void file_list_split(const char *text, struct file_list *list)
{
	list->items = NULL;
	list->n = 0;
	const char *p = text;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			list->items = xrealloc(list->items,
					       (list->n + 1) * sizeof(char *));
			list->items[list->n++] = xstrndup(a, (size_t)(b - a));
		}
		p = *end == ',' ? end + 1 : end;
	}
}

static void file_list_free(struct file_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

/* ---- one certificate ---- */

/* An encrypted key would make OpenSSL ask on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

static SSL_CTX *ssl_ctx_new(struct str *err_r)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (c == NULL) {
		str_printf(err_r, "cannot create a TLS context: %s",
			   openssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE |
				       SSL_OP_PRIORITIZE_CHACHA |
				       SSL_OP_NO_RENEGOTIATION |
				       SSL_OP_NO_COMPRESSION |
				       SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* An idle connection keeps no record buffers (about 34 KiB). */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_num_tickets(c, TICKETS);
	SSL_CTX_sess_set_cache_size(c, SESSION_CACHE);
	SSL_CTX_set_session_id_context(c, (const unsigned char *)"posthorn",
				       8);
	SSL_CTX_set_default_passwd_cb(c, no_passphrase);
	if (SSL_CTX_set_cipher_list(c, CIPHERS_TLS12) != 1 ||
	    SSL_CTX_set1_groups_list(c, GROUPS) != 1) {
		str_printf(err_r, "cannot set the TLS ciphers: %s",
			   openssl_reason());
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

/* OpenSSL's messages for a file it cannot open are vague; this says
 * which file and why. */
static int check_readable(const char *key, const char *path,
			  struct str *err_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		str_printf(err_r, "%s: cannot read %s: %s", key, path,
			   strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static int load_pair(SSL_CTX *c, const char *cert, const char *key,
		     struct str *err_r)
{
	if (check_readable("tls.cert", cert, err_r) < 0 ||
	    check_readable(cert == key ? "tls.cert" : "tls.key", key,
			   err_r) < 0)
		return -1;
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		str_printf(err_r, "tls.cert: %s holds no usable PEM "
			   "certificate chain: %s", cert, openssl_reason());
		return -1;
	}
	/* Read apart from its use, so that "not a key" and "not this
	 * certificate's key" get messages of their own. */
	FILE *f = fopen(key, "r");
	EVP_PKEY *pkey = f != NULL ? PEM_read_PrivateKey(f, NULL, no_passphrase,
							 NULL)
				   : NULL;
	if (f != NULL)
		fclose(f);
	if (pkey == NULL) {
		/* OpenSSL 3 says only "unsupported" here, whatever the file
		 * holds. */
		ERR_clear_error();
		str_printf(err_r, "%s: %s holds no usable PEM private key "
			   "(none found, or protected by a passphrase)",
			   cert == key ? "tls.cert" : "tls.key", key);
		return -1;
	}
	int used = SSL_CTX_use_PrivateKey(c, pkey);
	EVP_PKEY_free(pkey);
	if (used != 1 || SSL_CTX_check_private_key(c) != 1) {
		str_printf(err_r, "tls.key: the key in %s does not belong to "
			   "the certificate in %s: %s", key, cert,
			   openssl_reason());
		return -1;
	}
	return 0;
}

/* ---- a generation ---- */

static struct tls_ctx *tls_ctx_alloc(size_t n)
{
	struct tls_ctx *tc = xcalloc(1, sizeof(*tc) + n * sizeof(SSL_CTX *));
	atomic_init(&tc->refs, 1);
	tc->n = n;
	return tc;
}

static void tls_ctx_destroy(struct tls_ctx *tc)
{
	for (size_t i = 0; i < tc->n; i++)
		SSL_CTX_free(tc->ctx[i]);
	free(tc);
}

/* SNI (RFC 6066 3): the first certificate that names the host the client
 * asked for, as a client would check it; the first one for any other. */
static int sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct tls_ctx *tc = SSL_get_ex_data(ssl, ssl_gen_index);
	(void)alert;
	(void)arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < tc->n; i++) {
		X509 *x = SSL_CTX_get0_certificate(tc->ctx[i]);
		if (x != NULL &&
		    X509_check_host(x, name, 0,
				    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
				    NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, tc->ctx[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* A generation of the given cert/key pairs (keys[i] may be certs[i]). */
static int load_all(char *const *certs, char *const *keys, size_t n,
		    struct tls_ctx **ctx_r, struct str *err_r)
{
	struct tls_ctx *tc = tls_ctx_alloc(n);
	for (size_t i = 0; i < n; i++) {
		tc->ctx[i] = ssl_ctx_new(err_r);
		if (tc->ctx[i] == NULL ||
		    load_pair(tc->ctx[i], certs[i], keys[i], err_r) < 0) {
			tls_ctx_destroy(tc);
			return -1;
		}
	}
	if (n > 1) {
		SSL_CTX_set_tlsext_servername_callback(tc->ctx[0], sni_cb);
	}
	*ctx_r = tc;
	return 1;
}

static int load_configured(const struct config *cfg, struct tls_ctx **ctx_r,
			   struct str *err_r)
{
	struct file_list certs, keys;
	int rc = -1;
	file_list_split(cfg->tls.cert, &certs);
	file_list_split(cfg->tls.key, &keys);
	if (certs.n == 0)
		str_printf(err_r, "tls.cert: no file named");
	else if (keys.n != 0 && keys.n != certs.n)
		str_printf(err_r, "tls.key names %zu file%s and tls.cert %zu: "
			   "give one key per certificate, in the same order, "
			   "or leave tls.key empty when each certificate "
			   "file holds its key", keys.n,
			   keys.n == 1 ? "" : "s", certs.n);
	else
		rc = load_all(certs.items,
			      keys.n != 0 ? keys.items : certs.items, certs.n,
			      ctx_r, err_r);
	file_list_free(&certs);
	file_list_free(&keys);
	return rc;
}

/* ---- the self-signed certificate ---- */

static bool is_ip(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

static bool names_host(X509 *x, const char *host)
{
	if (is_ip(host))
		return X509_check_ip_asc(x, host, 0) == 1;
	return X509_check_host(x, host, 0, 0, NULL) == 1;
}

static bool expires_soon(X509 *x)
{
	time_t soon = time(NULL) + (time_t)SELF_SIGNED_RENEW_DAYS * 86400;
	return X509_cmp_time(X509_get0_notAfter(x), &soon) < 0;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (e == NULL)
		return -1;
	int ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : -1;
}

/* A host name that can go into an extension's text as it is. */
static bool plain_host(const char *host)
{
	size_t n = strlen(host);
	return n > 0 && n <= 253 &&
	       strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789.-_:") == n;
}

/* An X.509 v3 end-entity certificate for host, signed by its own key:
 * what a client needs to talk TLS, and to pin it if its user wants. */
static X509 *make_cert(EVP_PKEY *key, const char *host)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	char san[300];
	BIGNUM *bn = NULL;
	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* a positive number (RFC 5280 4.1.2.2) */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(x);
	snprintf(san, sizeof(san), "%s:%s", is_ip(host) ? "IP" : "DNS", host);
	if (bn == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), SELF_SIGNED_DAYS, 0,
			     NULL) == NULL ||
	    (strlen(host) <= 64 &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)host, -1, -1,
					0) != 1) ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0 ||
	    X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

static int emit_key(FILE *f, void *arg)
{
	return PEM_write_PrivateKey(f, arg, NULL, NULL, 0, NULL, NULL);
}

static int emit_cert(FILE *f, void *arg)
{
	return PEM_write_X509(f, arg);
}

/* Write path whole or not at all: a temporary file, fsync, rename. */
static int write_pem(const char *path, mode_t mode,
		     int (*emit)(FILE *f, void *arg), void *arg,
		     struct str *err_r)
{
	struct str tmp = STR_INIT;
	str_printf(&tmp, "%s.tmp", path);
	unlink(tmp.data);
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
					O_NOFOLLOW, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok = f != NULL && emit(f, arg) == 1 && fflush(f) == 0 &&
		  fsync(fd) == 0;
	int saved = errno;
	if (f != NULL)
		ok = fclose(f) == 0 && ok;
	else if (fd >= 0)
		close(fd);
	if (ok && rename(tmp.data, path) == 0) {
		str_free(&tmp);
		return 0;
	}
	if (!ok)
		errno = saved;
	str_printf(err_r, "cannot write %s: %s", path, strerror(errno));
	unlink(tmp.data);
	str_free(&tmp);
	return -1;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int make_self_signed(const char *dir, const char *cert,
			    const char *key, const char *host,
			    struct str *err_r)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = pkey != NULL ? make_cert(pkey, host) : NULL;
	int rc = -1;
	if (x == NULL)
		str_printf(err_r, "cannot make a self-signed certificate: %s",
			   openssl_reason());
	else if (write_pem(key, 0600, emit_key, pkey, err_r) == 0 &&
		 write_pem(cert, 0644, emit_cert, x, err_r) == 0)
		rc = 0;
	fsync_dir(dir);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

static void log_self_signed(const char *action, const char *why,
			    const char *host, const char *cert,
			    const char *key)
{
	struct str line = STR_INIT;
	log_begin(&line, "tls", NULL, "self-signed");
	log_field(&line, "action", "%s", action);
	if (why != NULL)
		log_field(&line, "reason", "%s", why);
	log_field(&line, "hostname", "%s", host);
	log_field(&line, "cert", "%s", cert);
	log_field(&line, "key", "%s", key);
	log_field(&line, "hint", "no certificate is configured, so clients "
		  "will warn that this one is not trusted; to use your own, "
		  "set tls.cert and tls.key, then restart or send SIGHUP");
	log_put(action[0] == 'c' ? LOG_WARN : LOG_INFO, &line);
}

/* Why the certificate in cert/key cannot be used as it is, or NULL. */
static const char *self_signed_stale(struct tls_ctx *tc, const char *host)
{
	X509 *x = SSL_CTX_get0_certificate(tc->ctx[0]);
	if (!names_host(x, host))
		return "hostname-changed";
	if (expires_soon(x))
		return "expiring";
	return NULL;
}

static int self_signed(const struct config *cfg, struct tls_ctx **ctx_r,
		       struct str *err_r)
{
	const char *host = cfg->server.hostname;
	struct str dir = STR_INIT, cert = STR_INIT, key = STR_INIT;
	struct str ignored = STR_INIT;
	int rc = -1;
	str_printf(&dir, "%s/tls", cfg->server.data_dir);
	str_printf(&cert, "%s/%s", dir.data, SELF_SIGNED_CERT);
	str_printf(&key, "%s/%s", dir.data, SELF_SIGNED_KEY);
	const char *why = "none-yet";
	if (access(cert.data, F_OK) == 0 || access(key.data, F_OK) == 0) {
		why = "unreadable";
		if (load_all(&cert.data, &key.data, 1, ctx_r, &ignored) > 0) {
			why = self_signed_stale(*ctx_r, host);
			if (why == NULL) {
				log_self_signed("reused", NULL, host,
						cert.data, key.data);
				rc = 1;
				goto out;
			}
			tls_ctx_unref(ctx_r);
		}
	}
	if (!plain_host(host)) {
		str_printf(err_r, "server.hostname '%s' cannot name a "
			   "certificate; set it, or set tls.cert and tls.key",
			   host);
		goto out;
	}
	if (mkdir(dir.data, 0700) < 0 && errno != EEXIST) {
		str_printf(err_r, "cannot create %s: %s", dir.data,
			   strerror(errno));
		goto out;
	}
	if (make_self_signed(dir.data, cert.data, key.data, host, err_r) < 0 ||
	    load_all(&cert.data, &key.data, 1, ctx_r, err_r) < 0)
		goto out;
	log_self_signed("created", why, host, cert.data, key.data);
	rc = 1;
out:
	str_free(&dir);
	str_free(&cert);
	str_free(&key);
	str_free(&ignored);
	return rc;
}

/* ---- the public side ---- */

int tls_ctx_new(const struct config *cfg, struct tls_ctx **ctx_r,
		struct str *err_r)
{
	*ctx_r = NULL;
	if (tls_configured(cfg))
		return load_configured(cfg, ctx_r, err_r);
	if (cfg->tls.key[0] != '\0') {
		str_printf(err_r, "tls.key is set but tls.cert is not: set "
			   "both, or neither for a self-signed certificate");
		return -1;
	}
	return self_signed(cfg, ctx_r, err_r);
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
	return ctx;
}

void tls_ctx_unref(struct tls_ctx **ctxp)
{
	struct tls_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	*ctxp = NULL;
	if (atomic_fetch_sub(&ctx->refs, 1) == 1)
		tls_ctx_destroy(ctx);
}

static void ssl_gen_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			 int idx, long argl, void *argp)
{
	struct tls_ctx *ctx = ptr;
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	tls_ctx_unref(&ctx);
}

static void ssl_gen_init(void)
{
	ssl_gen_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ssl_gen_free);
	if (ssl_gen_index < 0)
		log_panic("cannot get an OpenSSL ex_data index");
}

struct ssl_st *tls_ctx_new_ssl(struct tls_ctx *ctx)
{
	pthread_once(&ssl_gen_once, ssl_gen_init);
	SSL *ssl = SSL_new(ctx->ctx[0]);
	if (ssl != NULL &&
	    SSL_set_ex_data(ssl, ssl_gen_index, tls_ctx_ref(ctx)) != 1) {
		tls_ctx_unref(&ctx);
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

struct tls *tls_new(struct tls_ctx *ctx)
{
	struct tls *tls = xcalloc(1, sizeof(*tls));
	pthread_mutex_init(&tls->lock, NULL);
	tls->cur = ctx;
	return tls;
}

void tls_free(struct tls **tlsp)
{
	struct tls *tls = *tlsp;
	if (tls == NULL)
		return;
	tls_ctx_unref(&tls->cur);
	pthread_mutex_destroy(&tls->lock);
	free(tls);
	*tlsp = NULL;
}

struct tls_ctx *tls_get(struct tls *tls)
{
	pthread_mutex_lock(&tls->lock);
	struct tls_ctx *ctx = tls_ctx_ref(tls->cur);
	pthread_mutex_unlock(&tls->lock);
	return ctx;
}

void tls_set(struct tls *tls, struct tls_ctx *ctx)
{
	pthread_mutex_lock(&tls->lock);
	struct tls_ctx *old = tls->cur;
	tls->cur = ctx;
	pthread_mutex_unlock(&tls->lock);
	tls_ctx_unref(&old);
}

void tls_info_get(const struct ssl_st *ssl, struct tls_info *info_r)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const char *rfc = c != NULL ? SSL_CIPHER_standard_name(c) : NULL;
	info_r->version = SSL_get_version(ssl);
	info_r->cipher = c != NULL ? SSL_CIPHER_get_name(c) : "NONE";
	info_r->cipher_rfc = rfc != NULL ? rfc : info_r->cipher;
	info_r->alg_bits = 0;
	info_r->bits = c != NULL ? SSL_CIPHER_get_bits(c, &info_r->alg_bits)
				 : 0;
}

int tls_exporter(SSL *ssl, unsigned char out[TLS_EXPORTER_LEN])
{
	static const char label[] = "EXPORTER-Channel-Binding";
	if (SSL_version(ssl) != TLS1_3_VERSION &&
	    !(SSL_version(ssl) == TLS1_2_VERSION && SSL_get_extms_support(ssl) == 1))
		return 0;
	/* use_context = 1 with no bytes: RFC 9266's empty context, which
	 * under TLS 1.2 differs from no context at all. */
	if (SSL_export_keying_material(ssl, out, TLS_EXPORTER_LEN, label,
				       sizeof(label) - 1,
				       (const unsigned char *)"", 0, 1) != 1)
		return 0;
	return 1;
}

void tls_info_text(const struct tls_info *info, char *buf, size_t size)
{
	snprintf(buf, size, "%s with cipher %s (%d/%d bits)", info->version,
		 info->cipher, info->bits, info->alg_bits);
}

const char *tls_error_reason(const unsigned long *errs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ERR_GET_LIB(errs[i]) == 0)
			continue; /* SSL_get_error()'s code, not a reason */
		const char *r = ERR_reason_error_string(errs[i]);
		if (r != NULL)
			return r;
	}
	return NULL;
}
