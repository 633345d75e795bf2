/* net: socket addresses as the config writes them and as logs show them. */
#ifndef POSTHORN_NET_H
#define POSTHORN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parse "HOST:PORT" or "[IPV6]:PORT" with a numeric host.
 * Returns 0, or -1 with a reason in err_r (static text). */
int net_parse_hostport(const char *text, size_t len,
		       struct sockaddr_storage *ss_r, socklen_t *sslen_r,
		       const char **err_r);

/* Call fn for each comma- or space-separated item of a listen list;
 * stops and returns -1 at the first bad item, naming it in err_r. */
int net_parse_listen_list(const char *list,
			  int (*fn)(const struct sockaddr *sa, socklen_t len,
				    void *ctx),
			  void *ctx, const char **err_r);

bool net_is_loopback(const struct sockaddr *sa);

/* Text form of the address without port: "192.0.2.1" or "2001:db8::1". */
void net_addr_text(const struct sockaddr *sa, char *buf, size_t size);
/* Same with the port: "192.0.2.1:25" or "[2001:db8::1]:25". */
void net_hostport_text(const struct sockaddr *sa, char *buf, size_t size);

#endif
