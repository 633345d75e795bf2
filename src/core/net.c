#include "core/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *p, size_t len, unsigned *port_r)
{
	unsigned v = 0;
	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = v;
	return 0;
}

int net_parse_hostport(const char *text, size_t len,
		       struct sockaddr_storage *ss_r, socklen_t *sslen_r,
		       const char **err_r)
{
	char host[64];
	const char *colon;
	size_t hlen;
	unsigned port;
	/* IPv6 only in brackets, IPv4 only bare: "::1:25" is ambiguous. */
	int family = len > 0 && text[0] == '[' ? AF_INET6 : AF_INET;

	memset(ss_r, 0, sizeof(*ss_r));
	if (len > 0 && text[0] == '[') {
		const char *end = memchr(text, ']', len);
		if (end == NULL || end + 1 >= text + len || end[1] != ':') {
			*err_r = "expected [IPV6]:PORT";
			return -1;
		}
		hlen = (size_t)(end - text) - 1;
		if (hlen >= sizeof(host)) {
			*err_r = "address too long";
			return -1;
		}
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		colon = end + 1;
	} else {
		colon = memrchr(text, ':', len);
		if (colon == NULL) {
			*err_r = "expected HOST:PORT";
			return -1;
		}
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host)) {
			*err_r = "address too long";
			return -1;
		}
		memcpy(host, text, hlen);
		host[hlen] = '\0';
	}
	if (parse_port(colon + 1, (size_t)(text + len - colon - 1), &port) < 0) {
		*err_r = "bad port number";
		return -1;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss_r;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss_r;
	if (family == AF_INET &&
	    inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen_r = sizeof(*sin);
		return 0;
	}
	if (family == AF_INET6 &&
	    inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen_r = sizeof(*sin6);
		return 0;
	}
	*err_r = "not a numeric IPv4 or IPv6 address";
	return -1;
}

int net_parse_listen_list(const char *list,
			  int (*fn)(const struct sockaddr *sa, socklen_t len,
				    void *ctx),
			  void *ctx, const char **err_r)
{
	const char *p = list;
	while (*p != '\0') {
		size_t skip = strspn(p, ", \t");
		p += skip;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		struct sockaddr_storage ss;
		socklen_t sslen;
		if (net_parse_hostport(p, len, &ss, &sslen, err_r) < 0)
			return -1;
		if (fn != NULL && fn((struct sockaddr *)&ss, sslen, ctx) < 0) {
			*err_r = "cannot use address";
			return -1;
		}
		p += len;
	}
	return 0;
}

bool net_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		       sin6->sin6_addr.s6_addr[12] == 127;
	}
	return sa->sa_family == AF_UNIX;
}

void net_addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *a;
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else {
		snprintf(buf, size, "local");
		return;
	}
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
}

void net_hostport_text(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	net_addr_text(sa, host, sizeof(host));
	if (sa->sa_family == AF_INET)
		snprintf(buf, size, "%s:%u", host,
			 ntohs(((const struct sockaddr_in *)(const void *)sa)
				       ->sin_port));
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host,
			 ntohs(((const struct sockaddr_in6 *)(const void *)sa)
				       ->sin6_port));
	else
		snprintf(buf, size, "%s", host);
}
