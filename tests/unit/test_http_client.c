/**
 * collectd-ddoscoo - tests/unit/test_http_client.c
 * SPDX-License-Identifier: MIT
 *
 * The HTTP client against a loopback server that closes a kept-alive
 * connection the moment a request arrives on it, without a byte of answer:
 * the request must reach the server once, never a second time with the
 * same body (its signature and nonce); the client says so, so that the
 * caller signs it anew.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testing.h"

/* Answers the first request of every connection (kept alive); reads the
 * second and closes the connection without answering, as a server does
 * that drops a kept-alive connection just as a request arrives on it. */
typedef struct {
  int listener;
  int port;
  volatile bool stop;
  pthread_t thread;
  char bodies[16][64]; /* every request body received, in order */
  int count;
  int connections;
} server_t;

/* Reads one request (head and Content-Length body) into body; returns 0,
 * or -1 when the peer closed or the server stops. */
static int read_request(server_t *srv, int fd, char *body, size_t size) {
  char buf[4096];
  size_t len = 0;
  for (;;) {
    buf[len] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (end != NULL) {
      const char *cl = strstr(buf, "Content-Length: ");
      size_t want = (cl != NULL) ? strtoul(cl + 16, NULL, 10) : 0;
      size_t have = len - (size_t)(end + 4 - buf);
      if (have >= want) {
        snprintf(body, size, "%.*s", (int)want, end + 4);
        return 0;
      }
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (srv->stop || len + 1 >= sizeof(buf))
      return -1;
    if (poll(&p, 1, 50) <= 0)
      continue;
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0)
      return -1;
    len += (size_t)n;
  }
}

static void *serve(void *arg) {
  server_t *srv = arg;
  static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                               "Content-Length: 4\r\n\r\n<a/>";
  while (!srv->stop) {
    struct pollfd p = {.fd = srv->listener, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0)
      continue;
    int fd = accept(srv->listener, NULL, NULL);
    if (fd < 0)
      continue;
    srv->connections++;
    for (int n = 0; srv->count < 16; n++) {
      if (read_request(srv, fd, srv->bodies[srv->count], 64) != 0)
        break;
      srv->count++;
      if (n > 0)
        break; /* closed, unanswered */
      if (write(fd, answer, sizeof(answer) - 1) < 0)
        break;
    }
    close(fd);
  }
  return NULL;
}

static int server_start(server_t *srv) {
  memset(srv, 0, sizeof(*srv));
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addr_len = sizeof(addr);
  srv->listener = socket(AF_INET, SOCK_STREAM, 0);
  if (srv->listener < 0 ||
      bind(srv->listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(srv->listener, 8) != 0 ||
      getsockname(srv->listener, (struct sockaddr *)&addr, &addr_len) != 0)
    return -1;
  srv->port = ntohs(addr.sin_port);
  return pthread_create(&srv->thread, NULL, serve, srv);
}

static void server_stop(server_t *srv) {
  srv->stop = true;
  pthread_join(srv->thread, NULL);
  close(srv->listener);
}

typedef struct {
  int done;
  http_status_t status;
  bool resend;
  long http_status;
  char error[256];
} outcome_t;

static void done(const http_result_t *r, void *ctx) {
  outcome_t *o = ctx;
  o->done++;
  o->status = r->status;
  o->resend = r->resend;
  o->http_status = r->http_status;
  snprintf(o->error, sizeof(o->error), "%s", r->error);
}

/* POSTs body to the server and waits for the outcome. */
static outcome_t post(http_client_t *c, int port, const char *body) {
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
  outcome_t o = {0};
  if (http_client_start(c, url, body, NULL, 1024, 5000, NULL) != 0)
    return o;
  for (int i = 0; i < 500 && o.done == 0; i++)
    http_client_run(c, 20, done, &o);
  return o;
}

static int seen(const server_t *srv, const char *body) {
  int n = 0;
  for (int i = 0; i < srv->count; i++)
    n += strcmp(srv->bodies[i], body) == 0;
  return n;
}

DEF_TEST(a_request_on_a_dying_kept_alive_connection_is_not_sent_again) {
  server_t srv;
  CHECK_ZERO(server_start(&srv));
  char err[256];
  http_client_t *c = http_client_create(&(http_options_t){.verify_peer = true,
                                                          .verify_host = true,
                                                          .user_agent = "test",
                                                          .max_parallel = 1},
                                        err, sizeof(err));
  OK(c != NULL);

  outcome_t first = post(c, srv.port, "SignatureNonce=1");
  EXPECT_EQ_INT(HTTP_OK, first.status);
  EXPECT_EQ_INT(200, first.http_status);
  OK(!first.resend);

  /* On the kept-alive connection: read, then the connection closes. */
  outcome_t second = post(c, srv.port, "SignatureNonce=2");
  /* (The server counts a request before it would answer it.) */
  EXPECT_EQ_INT(1, seen(&srv, "SignatureNonce=2")); /* never twice */
  EXPECT_EQ_INT(1, second.done);
  EXPECT_EQ_INT(HTTP_FAILED, second.status);
  OK1(second.resend, second.error);

  /* Signed anew, the caller's next try is answered on a new connection. */
  outcome_t third = post(c, srv.port, "SignatureNonce=3");
  EXPECT_EQ_INT(HTTP_OK, third.status);

  http_client_destroy(c);
  server_stop(&srv);
  EXPECT_EQ_INT(1, seen(&srv, "SignatureNonce=1"));
  EXPECT_EQ_INT(1, seen(&srv, "SignatureNonce=2"));
  EXPECT_EQ_INT(1, seen(&srv, "SignatureNonce=3"));
  return 0;
}

int main(void) {
  curl_global_init(CURL_GLOBAL_ALL);
  RUN_TEST(a_request_on_a_dying_kept_alive_connection_is_not_sent_again);
  curl_global_cleanup();
  END_TEST;
}
