/*
 * api_util.c: the small helpers every api handler uses to answer: the JSON error body, extra
 * response headers and query parameter lookup (one place, so every error has the same shape).
 */
#include "postgres.h"

#include "core/json_writer.h"
#include "services/api/api.h"

void
api_error(ApiResponse *res, int status, const char *code, const char *fmt,...)
{
	StringInfoData message;
	JsonWriter	w;

	initStringInfo(&message);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&message, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&message, needed);
	}
	res->status = status;
	res->content_type = "application/json";
	resetStringInfo(&res->body);
	json_writer_init(&w, &res->body);
	json_writer_begin_object(&w, NULL);
	json_writer_string(&w, "error", code);
	json_writer_string(&w, "message", message.data);
	json_writer_end_object(&w);
	pfree(message.data);
}

void
api_add_header(ApiResponse *res, const char *name, const char *value)
{
	/* A header value never carries a line break (it would split the response). */
	appendStringInfoString(&res->headers, name);
	appendStringInfoString(&res->headers, ": ");
	for (const char *p = value; *p; p++)
		appendStringInfoChar(&res->headers, (*p == '\r' || *p == '\n') ? ' ' : *p);
	appendStringInfoString(&res->headers, "\r\n");
}

const char *
api_param(const ApiRequest *req, const char *name)
{
	for (int i = req->nparams - 1; i >= 0; i--)
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	return NULL;
}
