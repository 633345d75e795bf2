/* tls: the server's TLS certificates and settings (OpenSSL 3).
 *
 * A tls_ctx is one generation of them, immutable once made: the
 * certificates and keys that [tls] names (the first one is the default, the
 * others are chosen by the host name a client asks for with SNI), or, when
 * [tls] names none, a self-signed certificate for server.hostname, made on
 * first start and kept in DATA/tls/.  Every generation allows TLS 1.2 and
 * 1.3 only (1.2 with ECDHE key exchange and AEAD ciphers), prefers the
 * server's cipher order, resumes sessions with tickets, and lets OpenSSL
 * hand its buffers back while a connection is idle.
 *
 * A tls_ctx is reference-counted and shared by threads: each connection
 * holds the one it started with.  struct tls is the server's current
 * generation, which a reload replaces while loops take it on other
 * threads; open connections keep theirs.
 *
 * Only core/conn.c touches OpenSSL's connection objects; protocols see TLS
 * through core/session.h. */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct config;
struct ssl_st;
struct tls;
struct tls_ctx;

/* What an established connection agreed on.  The strings are OpenSSL's
 * own, static. */
struct tls_info {
	const char *version;	/* "TLSv1.3" */
	const char *cipher;	/* OpenSSL's name: "ECDHE-RSA-AES128-GCM-SHA256" */
	const char *cipher_rfc;	/* the IANA name: "TLS_ECDHE_RSA_WITH_..." */
	int bits;		/* the cipher's secret bits */
	int alg_bits;		/* the cipher's key size */
};

/* Whether [tls] names certificates of its own (else tls_ctx_new() uses
 * the self-signed one). */
bool tls_configured(const struct config *cfg);

/* Make a generation from cfg: the files [tls] names, or the self-signed
 * certificate in data_dir/tls/ (made, or made again when it does not name
 * server.hostname or is about to expire; the log says which).  Reads files
 * and may write them: call it at start-up or on a worker.  Returns 1, or -1
 * with the reason in *err_r, naming the file. */
int tls_ctx_new(const struct config *cfg, struct tls_ctx **ctx_r,
		struct str *err_r);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx);
/* Drops a reference; the last one frees. */
void tls_ctx_unref(struct tls_ctx **ctx);
/* A server-side connection object of this generation, holding a
 * reference to it until it is freed (SSL_free, the caller's).  NULL only
 * when OpenSSL is out of memory. */
struct ssl_st *tls_ctx_new_ssl(struct tls_ctx *ctx);

/* The server's current generation; takes the reference in ctx. */
struct tls *tls_new(struct tls_ctx *ctx);
void tls_free(struct tls **tls);
/* A new reference to the current generation.  Safe from any thread. */
struct tls_ctx *tls_get(struct tls *tls);
/* Make ctx (its reference taken) the current generation; connections that
 * hold the old one keep it.  Safe from any thread. */
void tls_set(struct tls *tls, struct tls_ctx *ctx);

/* The parameters of an established connection. */
void tls_info_get(const struct ssl_st *ssl, struct tls_info *info_r);
/* The tls-exporter channel binding (RFC 9266): 32 bytes of keying
 * material with the label "EXPORTER-Channel-Binding" and an empty
 * context, into out.  Returns 1, or 0 when the connection cannot give a
 * binding that is unique to it: TLS 1.2 without the extended master
 * secret (RFC 7627), where a third party could make two connections
 * share it. */
#define TLS_EXPORTER_LEN 32
int tls_exporter(struct ssl_st *ssl, unsigned char out[TLS_EXPORTER_LEN]);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", the form
 * mail servers use in logs and Received headers, cut to fit size. */
void tls_info_text(const struct tls_info *info, char *buf, size_t size);
/* Why a handshake failed, from the OpenSSL error codes of a connection
 * (as libevent collects them, first one first): the reason of the first
 * real error, e.g. "unsupported protocol", "no shared cipher"; NULL when
 * none names one. */
const char *tls_error_reason(const unsigned long *errs, size_t n);

#endif
