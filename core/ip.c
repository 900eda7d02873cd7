/*
 * ip.c - canonical address text and CIDR ranges (ip.h).  inet_pton and
 * inet_ntop do the reading and writing; what is ours is the leniency real
 * reports need (leading zeros, IPv4-mapped IPv6) and the prefix comparison.
 */
#include "ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Dotted quad with leading zeros ("192.000.002.001"), which inet_pton refuses.
 * Reports write decimal, so the zeros are read as decimal, not octal.
 */
static int
ipv4_zeros(const char *s, char *out, size_t outlen)
{
	unsigned part[4], i;
	const char *p = s;

	for (i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return -1;
		if (*p != (i < 3 ? '.' : '\0'))
			return -1;
		p++;
		part[i] = v;
	}
	snprintf(
	    out, outlen, "%u.%u.%u.%u", part[0], part[1], part[2], part[3]);
	return 0;
}

static int
ipv6_canon(const char *s, char *out, size_t outlen, enum dm_fixup *fix)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
		inet_ntop(AF_INET, &a4, out, (socklen_t)outlen);
		*fix = DM_FIXUP_IP_MAPPED;
		return 0;
	}
	inet_ntop(AF_INET6, &a6, out, (socklen_t)outlen);
	if (strcmp(out, s) != 0)
		*fix = DM_FIXUP_IP_CANONICAL;
	return 0;
}

int
dm_ip_canon(const char *s, char *out, size_t outlen, enum dm_fixup *fix)
{
	struct in_addr a4;
	size_t n = strlen(s);

	*fix = DM_FIXUP_COUNT;
	if (n == 0 || n >= outlen || outlen < DM_IP_TEXT_MAX)
		return -1;
	if (strchr(s, ':') != NULL)
		return ipv6_canon(s, out, outlen, fix);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out, s, n + 1);
		return 0;
	}
	if (ipv4_zeros(s, out, outlen) != 0)
		return -1;
	*fix = DM_FIXUP_IP_CANONICAL;
	return 0;
}

/* The bytes of a canonical address text; 0 or -1. */
static int
to_bytes(const char *canon, int *family, unsigned char *addr)
{
	*family = strchr(canon, ':') != NULL ? AF_INET6 : AF_INET;
	return inet_pton(*family, canon, addr) == 1 ? 0 : -1;
}

/* The prefix length after the slash: 0 to max, or -1. */
static int
prefix_bits(const char *s, int max)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 0 && v <= max ? (int)v : -1;
}

static void
clear_host_bits(struct dm_ip_net *net)
{
	int len = net->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		int keep = net->bits - i * 8;

		if (keep <= 0)
			net->addr[i] = 0;
		else if (keep < 8)
			net->addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
}

int
dm_ip_net_parse(const char *s, struct dm_ip_net *net)
{
	char addr[DM_IP_TEXT_MAX], canon[DM_IP_TEXT_MAX];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	enum dm_fixup fix;
	int mapped, bits;

	memset(net, 0, sizeof(*net));
	if (n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (dm_ip_canon(addr, canon, sizeof(canon), &fix) != 0 ||
	    to_bytes(canon, &net->family, net->addr) != 0)
		return -1;
	mapped = fix == DM_FIXUP_IP_MAPPED;
	net->bits = net->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return 0;
	/* The prefix counts the bits of the address as written. */
	if ((bits = prefix_bits(slash + 1, mapped ? 128 : net->bits)) < 0)
		return -2;
	if (mapped)
		bits = bits >= 96 ? bits - 96 : 0;
	net->bits = bits;
	clear_host_bits(net);
	return 0;
}

int
dm_ip_net_single(const struct dm_ip_net *net)
{
	return net->bits == (net->family == AF_INET ? 32 : 128);
}

const char *
dm_ip_net_addr(const struct dm_ip_net *net, char *out, size_t outlen)
{
	if (inet_ntop(net->family, net->addr, out, (socklen_t)outlen) == NULL &&
	    outlen > 0)
		out[0] = '\0';
	return out;
}

int
dm_ip_net_contains(const struct dm_ip_net *net, const char *ip)
{
	char canon[DM_IP_TEXT_MAX];
	unsigned char a[16];
	enum dm_fixup fix;
	int family, full = net->bits / 8, rest = net->bits % 8;

	if (dm_ip_canon(ip, canon, sizeof(canon), &fix) != 0 ||
	    to_bytes(canon, &family, a) != 0 || family != net->family)
		return 0;
	if (memcmp(a, net->addr, (size_t)full) != 0)
		return 0;
	return rest == 0 ||
	       ((a[full] ^ net->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}
