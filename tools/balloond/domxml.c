// SPDX-License-Identifier: GPL-2.0
/*
 * What the agent reads from a domain's XML (virDomainGetXMLDesc), parsed with libxml2:
 *
 *   <domain>
 *     <name>, <uuid>, <memory unit=...>
 *     <metadata>
 *       <esxmm:memory xmlns:esxmm="https://esxmm.dev/xmlns/1" shares="2000"
 *                     min_guarantee_kib="524288"/>
 *     </metadata>
 *     <memtune><min_guarantee unit='KiB'>N</min_guarantee></memtune>
 *     <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>
 *   </domain>
 *
 * Both attributes are optional. shares is 1 .. 4294967295 (esxmm's range); the reservation
 * is in KiB, from min_guarantee_kib or else from <memtune><min_guarantee> (which libvirt's
 * QEMU driver refuses to start a domain with, hence the attribute), and at most <memory>.
 * Anything else in our element (an unknown attribute, a value that is not a plain decimal
 * number, out of range, two elements) refuses the whole element: nothing of it is applied,
 * and conf->error says why.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "balloond.h"

/* libvirt's units (virScaleInteger): b, KB = 1000, K = KiB = 1024, and so on to EiB. */
static int unit_scale(const char *unit, uint64_t *bytes)
{
	static const char prefixes[] = "KMGTPE";
	const char *p;
	uint64_t scale = 1;
	size_t len;
	int i, n;

	if (!unit || !*unit) {
		*bytes = 1024;		/* libvirt's default for memory: KiB */
		return 0;
	}
	if (!strcmp(unit, "b") || !strcmp(unit, "bytes")) {
		*bytes = 1;
		return 0;
	}
	p = strchr(prefixes, unit[0] & ~0x20);
	if (!p || !unit[0])
		return -EINVAL;
	n = (int)(p - prefixes) + 1;
	len = strlen(unit);
	if (len == 1 || (len == 3 && !strcmp(unit + 1, "iB"))) {
		for (i = 0; i < n; i++)
			scale *= 1024;
	} else if (len == 2 && unit[1] == 'B') {
		for (i = 0; i < n; i++)
			scale *= 1000;
	} else {
		return -EINVAL;
	}
	*bytes = scale;
	return 0;
}

/* The text of the first node @expr finds, or NULL; free with xmlFree. */
static xmlChar *xpath_string(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlChar *s = NULL;

	if (obj && obj->nodesetval && obj->nodesetval->nodeNr > 0)
		s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
	xmlXPathFreeObject(obj);
	return s;
}

/* A memory size element (text + unit attribute) in KiB, rounded up. 1: absent. */
static int xpath_kib(xmlXPathContextPtr ctx, const char *elem, uint64_t *kib, char *err,
		     size_t errlen)
{
	char expr[256];
	xmlChar *val, *unit;
	uint64_t v, scale;
	int ret = 0;

	snprintf(expr, sizeof(expr), "%s", elem);
	val = xpath_string(ctx, expr);
	if (!val)
		return 1;
	snprintf(expr, sizeof(expr), "%s/@unit", elem);
	unit = xpath_string(ctx, expr);
	if (bd_parse_u64((const char *)val, UINT64_MAX, &v) ||
	    unit_scale((const char *)unit, &scale) || (v && scale > UINT64_MAX / v)) {
		snprintf(err, errlen, "%s '%s' unit '%s' is not a size", elem, (char *)val,
			 unit ? (char *)unit : "");
		ret = -EINVAL;
	} else {
		*kib = (v * scale + 1023) / 1024;
	}
	xmlFree(val);
	xmlFree(unit);
	return ret;
}

/* Our element: each attribute known and well-formed, or conf->error. */
static void parse_ours(xmlXPathContextPtr ctx, struct bd_domconf *c)
{
	xmlXPathObjectPtr obj;
	xmlNodePtr node;
	xmlAttrPtr attr;

	obj = xmlXPathEvalExpression(BAD_CAST "/domain/metadata/" BD_XMLNS_PREFIX ":"
				     BD_XML_ELEMENT, ctx);
	if (!obj || !obj->nodesetval || obj->nodesetval->nodeNr == 0)
		goto out;
	if (obj->nodesetval->nodeNr > 1) {
		snprintf(c->error, sizeof(c->error), "%d <" BD_XML_ELEMENT "> elements of "
			 "namespace " BD_XMLNS ": expected one", obj->nodesetval->nodeNr);
		goto out;
	}
	node = obj->nodesetval->nodeTab[0];
	for (attr = node->properties; attr; attr = attr->next) {
		const char *name = (const char *)attr->name;
		xmlChar *val = xmlNodeListGetString(node->doc, attr->children, 1);
		const char *s = val ? (const char *)val : "";
		int err;

		if (attr->ns) {
			/* xmlns declarations are not attributes; anything else namespaced is */
			snprintf(c->error, sizeof(c->error), "unknown attribute %s:%s",
				 (const char *)attr->ns->prefix, name);
		} else if (!strcmp(name, "shares")) {
			err = bd_parse_u64(s, 4294967295ULL, &c->shares);
			if (!err && c->shares == 0)
				err = -ERANGE;
			if (err)
				snprintf(c->error, sizeof(c->error), "shares='%s' %s", s,
					 err == -ERANGE ? "is out of range (1 to 4294967295)" :
					 "is not a decimal number");
			else
				c->has_shares = 1;
		} else if (!strcmp(name, "min_guarantee_kib")) {
			err = bd_parse_u64(s, UINT64_MAX / 1024, &c->min_kib);
			if (err)
				snprintf(c->error, sizeof(c->error), "min_guarantee_kib='%s' %s", s,
					 err == -ERANGE ? "is out of range" :
					 "is not a decimal number");
			else {
				c->has_min = 1;
				c->min_from = "min_guarantee_kib";
			}
		} else {
			snprintf(c->error, sizeof(c->error), "unknown attribute '%s' (known: "
				 "shares, min_guarantee_kib)", name);
		}
		xmlFree(val);
		if (c->error[0])
			break;
	}
out:
	xmlXPathFreeObject(obj);
}

/*
 * bd_parse_domxml() - fill @conf from the domain XML @xml.
 * Return: 0 (with conf->error set if our metadata was refused), -EINVAL if @xml is no
 * domain XML at all.
 */
int bd_parse_domxml(const char *xml, struct bd_domconf *conf)
{
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlChar *s;
	int ret = 0, r;

	memset(conf, 0, sizeof(*conf));
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	if (!ctx || xmlXPathRegisterNs(ctx, BAD_CAST BD_XMLNS_PREFIX, BAD_CAST BD_XMLNS)) {
		ret = -ENOMEM;
		goto out;
	}
	s = xpath_string(ctx, "/domain/name");
	if (!s) {
		ret = -EINVAL;
		goto out;
	}
	snprintf(conf->name, sizeof(conf->name), "%s", (char *)s);
	xmlFree(s);
	s = xpath_string(ctx, "/domain/uuid");
	if (s)
		snprintf(conf->uuid, sizeof(conf->uuid), "%s", (char *)s);
	xmlFree(s);
	if (xpath_kib(ctx, "/domain/memory", &conf->memory_kib, conf->error,
		      sizeof(conf->error)) < 0) {
		ret = -EINVAL;
		goto out;
	}
	s = xpath_string(ctx, "/domain/memoryBacking/source/@type");
	conf->file_backed = s && !strcmp((char *)s, "file");
	xmlFree(s);
	s = xpath_string(ctx, "/domain/memoryBacking/access/@mode");
	conf->shared_access = s && !strcmp((char *)s, "shared");
	xmlFree(s);

	parse_ours(ctx, conf);
	if (!conf->error[0] && !conf->has_min) {
		r = xpath_kib(ctx, "/domain/memtune/min_guarantee", &conf->min_kib, conf->error,
			      sizeof(conf->error));
		if (r == 0) {
			conf->has_min = 1;
			conf->min_from = "memtune/min_guarantee";
		}
	}
	if (!conf->error[0] && conf->has_min && conf->memory_kib &&
	    conf->min_kib > conf->memory_kib)
		snprintf(conf->error, sizeof(conf->error), "%s %llu KiB is more than the "
			 "domain's memory (%llu KiB)", conf->min_from,
			 (unsigned long long)conf->min_kib,
			 (unsigned long long)conf->memory_kib);
	if (conf->error[0])
		conf->has_shares = conf->has_min = 0;
out:
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return ret;
}
