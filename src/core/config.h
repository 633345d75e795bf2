/* config: the effective configuration, from defaults, one INI file and
 * --set overrides, in that order.  Every key is in the table in config.c and
 * documented in docs/config.md; `posthorn config` prints them all.
 *
 * The struct is plain data, filled once at start-up and read-only after
 * that, so threads share it without locks. */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum config_backend { CONFIG_BACKEND_SQLITE };
enum config_insecure { CONFIG_INSECURE_NO, CONFIG_INSECURE_LOOPBACK,
		       CONFIG_INSECURE_YES };

/* server.threads' upper bound: the most event loops we run. */
#define CONFIG_THREADS_MAX 256

struct config {
	struct {
		char *hostname;
		char *data_dir;
		char *user;
		unsigned threads;
		unsigned workers;
		unsigned sync_workers;
		unsigned max_connections;
		unsigned max_connections_per_ip;
		uint64_t client_memory;
	} server;
	struct {
		char *smtp, *submission, *submissions, *imap, *imaps;
		char *pop3, *pop3s, *http;
	} listen;
	struct {
		uint64_t max_message_size;
		unsigned max_recipients;
		unsigned max_line_length;
		unsigned max_errors;
		unsigned timeout;
		unsigned data_timeout;
	} smtp;
	struct {
		bool hide_client;	/* no client address in Received */
		unsigned max_recipients;
		unsigned max_messages_per_hour;	/* per user; 0 = no limit */
	} submission;
	struct {
		unsigned timeout;
		unsigned max_errors;
	} pop3;
	struct {
		unsigned timeout;
		unsigned max_errors;
	} imap;
	struct {
		int allow_insecure; /* enum config_insecure */
		unsigned argon2_memory;	/* KiB */
		unsigned argon2_passes;
		unsigned cache_ttl;	/* seconds */
		int login_local_part;	/* 0 no, 1 yes */
		unsigned scram_iterations; /* of new SCRAM secrets */
		unsigned fail_delay;	/* ms, after a first failed login */
		unsigned fail_delay_max; /* ms */
		unsigned fail_limit_ip;	/* failures per fail_window */
		unsigned fail_limit_user;
		unsigned fail_window;	/* seconds */
	} auth;
	struct {
		char *cert;	/* PEM files, comma-separated; "" = self-signed */
		char *key;	/* their keys, in the same order; "" = in cert */
	} tls;
	struct {
		char *recipient_delimiter;
		char *postmaster;
	} delivery;
	struct {
		int backend; /* enum config_backend */
	} store;
	struct {
		int level; /* enum log_level */
	} log;
};

/* A config with every default in place. */
struct config *config_new(void);
void config_free(struct config **cfg);

/* Read an INI file over the current values.  Each problem is printed to
 * errf as "FILE:LINE: message"; returns the number of problems (0 = ok). */
int config_load_file(struct config *cfg, const char *path, FILE *errf);

/* Apply "section.key=value".  Returns 0, or -1 after printing the problem
 * to errf with `origin` (e.g. "--set") in front. */
int config_set(struct config *cfg, const char *assignment, const char *origin,
	       FILE *errf);

/* Fill values that depend on the machine (hostname, threads = 0) once
 * loading is done. */
void config_finish(struct config *cfg);

/* Event loops for server.threads = 0 on a machine with ncpu CPUs: one per
 * CPU, at most CONFIG_THREADS_MAX, at least 1 (also when ncpu is unknown,
 * <= 0).  Pure. */
unsigned config_auto_threads(long ncpu);

/* Print every key as "section.key = value", in the INI syntax. */
void config_print(const struct config *cfg, FILE *out);

#endif
