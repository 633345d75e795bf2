/* serve: the `serve` command: listeners, event loops, workers. */
#ifndef POSTHORN_SERVE_H
#define POSTHORN_SERVE_H

struct config;

/* Runs until SIGTERM or SIGINT; returns the process exit code. */
int serve_main(const struct config *cfg);

#endif
