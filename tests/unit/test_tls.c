/* tls: the self-signed certificate (made once, reused, made again for a new
 * host name), the start-up errors an admin reads, and what a client gets in
 * a real handshake with a context of ours, in memory (versions, ciphers,
 * SNI, the text for Received headers). */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/auth_scram.h"
#include "core/config.h"
#include "core/log.h"
#include "core/tls.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	return temp_dir(dir, sizeof(dir), "tls");
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(dir);
	return 0;
}

static struct config *config_with(const char *data, const char *host)
{
	struct config *cfg = config_new();
	char set[512];
	snprintf(set, sizeof(set), "server.data_dir=%s", data);
	assert_int_equal(config_set(cfg, set, "test", stderr), 0);
	snprintf(set, sizeof(set), "server.hostname=%s", host);
	assert_int_equal(config_set(cfg, set, "test", stderr), 0);
	return cfg;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *buf = calloc(1, 65536);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/* A self-signed certificate for host in DIR/name/tls/. */
static void make_self_signed(const char *name, const char *host)
{
	char data[512];
	snprintf(data, sizeof(data), "%s/%s", dir, name);
	struct config *cfg = config_with(data, host);
	struct tls_ctx *ctx = NULL;
	struct str err = STR_INIT;
	mkdir(data, 0700);
	cur = name;
	EXPECT_INT(tls_ctx_new(cfg, &ctx, &err), 1);
	tls_ctx_unref(&ctx);
	str_free(&err);
	config_free(&cfg);
}

static void path_of(char *buf, size_t size, const char *name,
		    const char *file)
{
	snprintf(buf, size, "%s/%s/tls/%s", dir, name, file);
}

/* ---- the self-signed certificate ---- */

static void test_self_signed(void **state)
{
	(void)state;
	char cert[512], key[512];
	make_self_signed("self", "mx.test");
	path_of(cert, sizeof(cert), "self", "self-signed.pem");
	path_of(key, sizeof(key), "self", "self-signed.key");
	struct stat st;
	cur = "key mode";
	EXPECT(stat(key, &st) == 0);
	EXPECT_INT(st.st_mode & 0777, 0600);
	char *first = read_file(cert);
	assert_non_null(first);
	X509 *x = read_cert(cert);
	cur = "names the host";
	EXPECT_INT(X509_check_host(x, "mx.test", 0, 0, NULL), 1);
	EXPECT_INT(X509_check_host(x, "other.test", 0, 0, NULL), 0);
	cur = "an end-entity certificate for servers";
	EXPECT_INT(X509_check_ca(x), 0);
	EXPECT_INT(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	X509_free(x);

	cur = "reused";
	make_self_signed("self", "mx.test");
	char *second = read_file(cert);
	EXPECT_STR(second, first);
	free(second);

	cur = "made again for a new name";
	make_self_signed("self", "mail.test");
	second = read_file(cert);
	EXPECT(strcmp(second, first) != 0);
	x = read_cert(cert);
	EXPECT_INT(X509_check_host(x, "mail.test", 0, 0, NULL), 1);
	X509_free(x);
	free(second);
	free(first);

	cur = "an IP address as the host name";
	make_self_signed("ip", "192.0.2.25");
	path_of(cert, sizeof(cert), "ip", "self-signed.pem");
	x = read_cert(cert);
	EXPECT_INT(X509_check_ip_asc(x, "192.0.2.25", 0), 1);
	X509_free(x);
}

static void test_self_signed_bad_hostname(void **state)
{
	(void)state;
	char data[512];
	snprintf(data, sizeof(data), "%s/badhost", dir);
	mkdir(data, 0700);
	struct config *cfg = config_with(data, "bad host,DNS:evil");
	struct tls_ctx *ctx = NULL;
	struct str err = STR_INIT;
	cur = "bad hostname";
	EXPECT_INT(tls_ctx_new(cfg, &ctx, &err), -1);
	EXPECT(ctx == NULL);
	EXPECT_STR(err.data, "server.hostname 'bad host,DNS:evil' cannot name "
			     "a certificate; set it, or set tls.cert and "
			     "tls.key");
	str_free(&err);
	config_free(&cfg);

	cur = "a key without a certificate";
	cfg = config_with(data, "mx.test");
	assert_int_equal(config_set(cfg, "tls.key=/x.key", "test", stderr), 0);
	EXPECT(!tls_configured(cfg));
	EXPECT_INT(tls_ctx_new(cfg, &ctx, &err), -1);
	EXPECT_STR(err.data, "tls.key is set but tls.cert is not: set both, "
			     "or neither for a self-signed certificate");
	str_free(&err);
	config_free(&cfg);
}

/* ---- configured certificates: what an admin reads ---- */

static int configured(const char *cert, const char *key, struct tls_ctx **ctx,
		      struct str *err)
{
	struct config *cfg = config_with(dir, "mx.test");
	char set[2048];
	snprintf(set, sizeof(set), "tls.cert=%s", cert);
	assert_int_equal(config_set(cfg, set, "test", stderr), 0);
	snprintf(set, sizeof(set), "tls.key=%s", key);
	assert_int_equal(config_set(cfg, set, "test", stderr), 0);
	EXPECT(tls_configured(cfg));
	str_clear(err);
	int rc = tls_ctx_new(cfg, ctx, err);
	config_free(&cfg);
	return rc;
}

/* "%A" is A's certificate, "%a" its key, "%B"/"%b" B's, "%G" a file of
 * garbage, "%M" a file that does not exist, "%E" A's key encrypted with a
 * passphrase, "%D" the directory. */
static void expand(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (; *in && o + 1 < size; in++) {
		const char *s = NULL;
		char buf[512];
		if (*in == '%') {
			switch (*++in) {
			case 'A': path_of(buf, sizeof(buf), "a", "self-signed.pem"); break;
			case 'a': path_of(buf, sizeof(buf), "a", "self-signed.key"); break;
			case 'B': path_of(buf, sizeof(buf), "b", "self-signed.pem"); break;
			case 'b': path_of(buf, sizeof(buf), "b", "self-signed.key"); break;
			case 'G': snprintf(buf, sizeof(buf), "%s/garbage.pem", dir); break;
			case 'M': snprintf(buf, sizeof(buf), "%s/missing.pem", dir); break;
			case 'E': snprintf(buf, sizeof(buf), "%s/encrypted.key", dir); break;
			default: snprintf(buf, sizeof(buf), "%s", dir); break;
			}
			s = buf;
			o += (size_t)snprintf(out + o, size - o, "%s", s);
		} else {
			out[o++] = *in;
		}
	}
	out[o < size ? o : size - 1] = '\0';
}

static void test_configured_errors(void **state)
{
	(void)state;
	static const struct {
		const char *cert, *key, *err;
	} cases[] = {
		{"%M", "%a", "tls.cert: cannot read %M: No such file or "
			     "directory"},
		{"%A", "%M", "tls.key: cannot read %M: No such file or "
			     "directory"},
		{"%M", "", "tls.cert: cannot read %M: No such file or "
			   "directory"},
		{"%G", "%a", "tls.cert: %G holds no usable PEM certificate "
			     "chain: no start line"},
		{"%A", "%G", "tls.key: %G holds no usable PEM private key "
			     "(none found, or protected by a passphrase)"},
		/* A certificate file without its key, and no tls.key. */
		{"%A", "", "tls.cert: %A holds no usable PEM private key (none "
			   "found, or protected by a passphrase)"},
		/* Never a prompt on the terminal. */
		{"%A", "%E", "tls.key: %E holds no usable PEM private key "
			     "(none found, or protected by a passphrase)"},
		{"%A", "%b", "tls.key: the key in %b does not belong to the "
			     "certificate in %A: key values mismatch"},
		{"%A, %B", "%a", "tls.key names 1 file and tls.cert 2: give one "
				 "key per certificate, in the same order, or "
				 "leave tls.key empty when each certificate "
				 "file holds its key"},
		{" , ", "", "tls.cert: no file named"},
		{"%D", "%a", "tls.cert: %D holds no usable PEM certificate "
			     "chain: "},
	};
	make_self_signed("a", "mx.test");
	make_self_signed("b", "other.test");
	char garbage[512];
	snprintf(garbage, sizeof(garbage), "%s/garbage.pem", dir);
	FILE *f = fopen(garbage, "w");
	assert_non_null(f);
	fputs("this is not PEM\n", f);
	fclose(f);
	char path[512];
	expand("%a", path, sizeof(path));
	f = fopen(path, "r");
	assert_non_null(f);
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pkey);
	expand("%E", path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pkey, EVP_aes_128_cbc(),
					      (unsigned char *)"secret", 6,
					      NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(pkey);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cert[2048], key[2048], want[2048];
		struct tls_ctx *ctx = NULL;
		struct str err = STR_INIT;
		expand(cases[i].cert, cert, sizeof(cert));
		expand(cases[i].key, key, sizeof(key));
		expand(cases[i].err, want, sizeof(want));
		cur = cases[i].err;
		EXPECT_INT(configured(cert, key, &ctx, &err), -1);
		EXPECT(ctx == NULL);
		/* The last case ends in whatever OpenSSL says of a
		 * directory. */
		if (err.data == NULL ||
		    strncmp(err.data, want, strlen(want)) != 0)
			fail_msg("error is \"%s\", want \"%s\"",
				 err.data ? err.data : "(none)", want);
		if (want[strlen(want) - 1] != ' ')
			EXPECT_STR(err.data, want);
		str_free(&err);
	}
}

/* ---- handshakes, in memory ---- */

/* Run a handshake between client and server over a BIO pair: 1 when it
 * is done, -1 when either side failed. */
static int handshake(SSL *client, SSL *server)
{
	BIO *cb, *sb;
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(client, cb, cb);
	SSL_set_bio(server, sb, sb);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	for (int i = 0; i < 100; i++) {
		int rc = SSL_do_handshake(client);
		int rs = SSL_do_handshake(server);
		if (rc == 1 && rs == 1)
			return 1;
		int ec = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(client, rc);
		int es = rs == 1 ? SSL_ERROR_NONE : SSL_get_error(server, rs);
		if ((ec != SSL_ERROR_NONE && ec != SSL_ERROR_WANT_READ &&
		     ec != SSL_ERROR_WANT_WRITE) ||
		    (es != SSL_ERROR_NONE && es != SSL_ERROR_WANT_READ &&
		     es != SSL_ERROR_WANT_WRITE))
			return -1;
	}
	return -1;
}

struct client_opts {
	int min, max;		/* protocol versions, 0 = any */
	const char *ciphers;	/* TLS 1.2 list, NULL = default */
	const char *suites;	/* TLS 1.3 suites, NULL = default */
	const char *sni;
};

static SSL *client_new(const struct client_opts *o)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	assert_non_null(c);
	SSL_CTX_set_security_level(c, 0);
	SSL_CTX_set_min_proto_version(c, o->min);
	SSL_CTX_set_max_proto_version(c, o->max);
	if (o->ciphers != NULL)
		assert_int_equal(SSL_CTX_set_cipher_list(c, o->ciphers), 1);
	if (o->suites != NULL)
		assert_int_equal(SSL_CTX_set_ciphersuites(c, o->suites), 1);
	SSL *ssl = SSL_new(c);
	SSL_CTX_free(c);
	if (o->sni != NULL)
		SSL_set_tlsext_host_name(ssl, o->sni);
	return ssl;
}

static struct tls_ctx *two_certs(void)
{
	make_self_signed("a", "mx.test");
	make_self_signed("b", "other.test");
	char cert[2048], key[2048];
	struct tls_ctx *ctx = NULL;
	struct str err = STR_INIT;
	expand("%A,%B", cert, sizeof(cert));
	expand(" %a , %b ", key, sizeof(key));
	cur = "two certificates";
	EXPECT_INT(configured(cert, key, &ctx, &err), 1);
	str_free(&err);
	return ctx;
}

static void test_versions_and_ciphers(void **state)
{
	(void)state;
	static const struct {
		struct client_opts client;
		int ok;
		const char *text;	/* tls_info_text() */
		const char *rfc;	/* the IANA name */
		int reason;		/* the server's, when it fails */
	} cases[] = {
		{{TLS1_1_VERSION, TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0", NULL,
		  NULL},
		 -1, NULL, NULL, SSL_R_UNSUPPORTED_PROTOCOL},
		{{TLS1_VERSION, TLS1_VERSION, "DEFAULT:@SECLEVEL=0", NULL, NULL},
		 -1, NULL, NULL, SSL_R_UNSUPPORTED_PROTOCOL},
		/* The server's order, not the client's. */
		{{TLS1_2_VERSION, TLS1_2_VERSION,
		  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
		  NULL, NULL},
		 1, "TLSv1.2 with cipher ECDHE-ECDSA-AES128-GCM-SHA256 "
		    "(128/128 bits)",
		 "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0},
		/* ChaCha20 when the client puts it first. */
		{{TLS1_2_VERSION, TLS1_2_VERSION,
		  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
		  NULL, NULL},
		 1, "TLSv1.2 with cipher ECDHE-ECDSA-CHACHA20-POLY1305 "
		    "(256/256 bits)",
		 "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0},
		/* No CBC, no RSA key exchange. */
		{{TLS1_2_VERSION, TLS1_2_VERSION,
		  "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA", NULL, NULL},
		 -1, NULL, NULL, SSL_R_NO_SHARED_CIPHER},
		{{TLS1_2_VERSION, TLS1_2_VERSION,
		  "AES128-GCM-SHA256:@SECLEVEL=0", NULL, NULL},
		 -1, NULL, NULL, SSL_R_NO_SHARED_CIPHER},
		{{TLS1_3_VERSION, TLS1_3_VERSION, NULL,
		  "TLS_AES_256_GCM_SHA384", NULL},
		 1, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
		 "TLS_AES_256_GCM_SHA384", 0},
		{{TLS1_3_VERSION, TLS1_3_VERSION, NULL,
		  "TLS_AES_128_GCM_SHA256", NULL},
		 1, "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)",
		 "TLS_AES_128_GCM_SHA256", 0},
	};
	struct tls_ctx *ctx = two_certs();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "version case %zu", i);
		cur = name;
		ERR_clear_error();
		SSL *client = client_new(&cases[i].client);
		SSL *server = tls_ctx_new_ssl(ctx);
		assert_non_null(server);
		EXPECT(SSL_get_mode(server) & SSL_MODE_RELEASE_BUFFERS);
		int rc = handshake(client, server);
		EXPECT_INT(rc, cases[i].ok);
		if (rc == 1) {
			struct tls_info info;
			char text[128];
			tls_info_get(server, &info);
			tls_info_text(&info, text, sizeof(text));
			EXPECT_STR(text, cases[i].text);
			EXPECT_STR(info.cipher_rfc, cases[i].rfc);
		} else {
			unsigned long errs[] = {SSL_ERROR_SSL,
						ERR_peek_error()};
			EXPECT_INT(ERR_GET_REASON(errs[1]), cases[i].reason);
			EXPECT(tls_error_reason(errs, 2) != NULL);
		}
		SSL_free(client);
		SSL_free(server);
	}
	ERR_clear_error();
	tls_ctx_unref(&ctx);
}

static void test_sni(void **state)
{
	(void)state;
	static const struct {
		const char *sni;
		const char *want; /* the host the certificate names */
	} cases[] = {
		{"mx.test", "mx.test"},	    {"other.test", "other.test"},
		{"OTHER.test", "other.test"}, {"unknown.test", "mx.test"},
		{NULL, "mx.test"},
	};
	struct tls_ctx *ctx = two_certs();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cur = cases[i].sni != NULL ? cases[i].sni : "(no SNI)";
		struct client_opts o = {0, 0, NULL, NULL, cases[i].sni};
		SSL *client = client_new(&o);
		SSL *server = tls_ctx_new_ssl(ctx);
		EXPECT_INT(handshake(client, server), 1);
		X509 *peer = SSL_get1_peer_certificate(client);
		assert_non_null(peer);
		EXPECT_INT(X509_check_host(peer, cases[i].want, 0, 0, NULL), 1);
		X509_free(peer);
		SSL_free(client);
		SSL_free(server);
	}
	tls_ctx_unref(&ctx);
}

/* A reload swaps the current generation; a connection made from the old
 * one goes on with it. */
static void test_generations(void **state)
{
	(void)state;
	struct tls_ctx *first = two_certs();
	struct tls *tls = tls_new(first);
	struct tls_ctx *held = tls_get(tls);
	cur = "same generation";
	EXPECT(held == first);
	SSL *old = tls_ctx_new_ssl(held);
	tls_ctx_unref(&held);
	struct tls_ctx *second = two_certs();
	tls_set(tls, second);
	struct tls_ctx *now = tls_get(tls);
	cur = "new generation";
	EXPECT(now == second);
	struct client_opts o = {0, 0, NULL, NULL, "mx.test"};
	SSL *client = client_new(&o);
	cur = "a connection of the old generation";
	EXPECT_INT(handshake(client, old), 1);
	SSL_free(client);
	SSL_free(old);
	tls_ctx_unref(&now);
	tls_free(&tls);
	EXPECT(tls == NULL);
}

/* SCRAM-SHA-256-PLUS over a connection: the server binds with its own
 * exporter value, the client (computed here with OpenSSL alone, as RFC
 * 5802 3 says) with its own.  Returns auth_scram_client_final()'s. */
static int scram_plus(const unsigned char *server_cb,
		      const unsigned char *client_cb)
{
	static const char first[] = "p=tls-exporter,,n=user,r=fyko+d2lbbFgON";
	const char *err = NULL;
	struct auth_scram_secret sec;
	struct str sf = STR_INIT, out = STR_INIT;
	unsigned char salted[32], ckey[32], stored[32], sig[32];
	unsigned char gs2cb[16 + 32], cb64[128], proof64[64];
	unsigned len;
	struct auth_scram *x = auth_scram_new(true, server_cb);
	assert_int_equal(auth_scram_client_first(x, first, strlen(first), &err),
			 1);
	assert_int_equal(auth_scram_secret_make("pencil", 6, 4096,
						(const unsigned char *)"salt",
						4, &sec),
			 1);
	auth_scram_server_first(x, &sec, "3rfcNHYJY1ZVvWVs7j", &sf);
	assert_int_equal(PKCS5_PBKDF2_HMAC("pencil", 6,
					   (const unsigned char *)"salt", 4,
					   4096, EVP_sha256(), 32, salted),
			 1);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10,
	     ckey, &len);
	SHA256(ckey, 32, stored);
	memcpy(gs2cb, "p=tls-exporter,,", 16);
	memcpy(gs2cb + 16, client_cb, 32);
	EVP_EncodeBlock(cb64, gs2cb, sizeof(gs2cb));
	struct str am = STR_INIT, final = STR_INIT;
	str_printf(&final, "c=%s,r=fyko+d2lbbFgON3rfcNHYJY1ZVvWVs7j", cb64);
	str_printf(&am, "%s,%s,%s", first + 16, sf.data, final.data);
	HMAC(EVP_sha256(), stored, 32, (const unsigned char *)am.data, am.len,
	     sig, &len);
	for (int i = 0; i < 32; i++)
		sig[i] ^= ckey[i];
	EVP_EncodeBlock(proof64, sig, 32);
	str_printf(&final, ",p=%s", proof64);
	int rc = auth_scram_client_final(x, final.data, final.len, &out, &err);
	auth_scram_free(&x);
	str_free(&sf);
	str_free(&out);
	str_free(&am);
	str_free(&final);
	return rc;
}

/* RFC 9266 on real handshakes: the server's tls-exporter value is the
 * client's, it binds a SCRAM-SHA-256-PLUS exchange, and a TLS 1.2
 * connection without the extended master secret has none. */
static void test_exporter(void **state)
{
	(void)state;
	static const char label[] = "EXPORTER-Channel-Binding";
	static const struct {
		int version;
		uint64_t options;
		int want;
	} cases[] = {
		{TLS1_3_VERSION, 0, 1},
		{TLS1_2_VERSION, 0, 1},
		{TLS1_2_VERSION, SSL_OP_NO_EXTENDED_MASTER_SECRET, 0},
	};
	struct tls_ctx *ctx = two_certs();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		unsigned char s[TLS_EXPORTER_LEN], c[TLS_EXPORTER_LEN];
		unsigned char other[TLS_EXPORTER_LEN] = {0};
		snprintf(name, sizeof(name), "exporter case %zu", i);
		cur = name;
		struct client_opts o = {cases[i].version, cases[i].version,
					NULL, NULL, NULL};
		SSL *client = client_new(&o);
		SSL_set_options(client, cases[i].options);
		SSL *server = tls_ctx_new_ssl(ctx);
		EXPECT_INT(handshake(client, server), 1);
		EXPECT_INT(tls_exporter(server, s), cases[i].want);
		if (cases[i].want) {
			EXPECT_INT(SSL_export_keying_material(
					   client, c, sizeof(c), label,
					   strlen(label),
					   (const unsigned char *)"", 0, 1),
				   1);
			EXPECT(memcmp(s, c, sizeof(s)) == 0);
			EXPECT_INT(scram_plus(s, c), 1);
			EXPECT_INT(scram_plus(s, other), 0);
		}
		SSL_free(client);
		SSL_free(server);
	}
	tls_ctx_unref(&ctx);
}

static void test_error_reason(void **state)
{
	(void)state;
	unsigned long none[] = {SSL_ERROR_SSL, SSL_ERROR_SYSCALL};
	unsigned long one[] = {
		SSL_ERROR_SSL,
		ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL),
		ERR_PACK(ERR_LIB_SSL, 0, SSL_R_NO_SHARED_CIPHER)};
	cur = "error reason";
	EXPECT(tls_error_reason(none, 0) == NULL);
	EXPECT(tls_error_reason(none, 2) == NULL);
	EXPECT_STR(tls_error_reason(one, 3), "unsupported protocol");
	EXPECT_STR(tls_error_reason(one + 2, 1), "no shared cipher");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test(test_self_signed_bad_hostname),
		cmocka_unit_test(test_configured_errors),
		cmocka_unit_test(test_versions_and_ciphers),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_exporter),
		cmocka_unit_test(test_error_reason),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
