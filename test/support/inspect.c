/* What a guest sees of itself, printed for the privileged tests.
 *   inspect                 JSON: /proc/self/status lines, open fds, environ (hex), cwd, umask,
 *                           securebits
 *   inspect tap TUNPATH     create a non-persistent TAP through TUNPATH; prints "ok" or the errno name
 *   inspect sleep SECONDS   sleep, then exit 0
 *   inspect exit CODE       exit with CODE
 *   inspect securebits BITS PROGRAM [ARGS...]
 *                           set this process's securebits (needs CAP_SETPCAP), then exec PROGRAM
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

static int tap(const char *path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) { printf("open:%s\n", strerrorname_np(errno)); return 1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "capspawn%d", (int)getpid() % 100000);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { printf("ioctl:%s\n", strerrorname_np(errno)); return 1; }
  printf("ok\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "tap") == 0) return tap(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "sleep") == 0) { sleep(atoi(argv[2])); return 0; }
  if (argc >= 3 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  if (argc >= 4 && strcmp(argv[1], "securebits") == 0) {
    if (prctl(PR_SET_SECUREBITS, strtoul(argv[2], NULL, 0), 0, 0, 0) != 0) { perror("prctl"); return 126; }
    execv(argv[3], argv + 3);
    perror("execv");
    return 127;
  }

  printf("{\"status\":{");
  FILE *f = fopen("/proc/self/status", "re");
  char line[4096];
  int first = 1;
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = 0;
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    value[strcspn(value, "\n")] = 0;
    printf("%s", first ? "" : ",");
    first = 0;
    json_string(line);
    putchar(':');
    json_string(value);
  }
  if (f) fclose(f);

  printf("},\"fds\":[");
  DIR *d = opendir("/proc/self/fd");
  first = 1;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
    char link[300], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    printf("%s{\"fd\":%s,\"target\":", first ? "" : ",", e->d_name);
    json_string(target);
    putchar('}');
    first = 0;
  }
  if (d) closedir(d);

  printf("],\"environ\":\"");
  int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
  unsigned char buf[65536];
  ssize_t n;
  while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) printf("%02x", buf[i]);
  if (fd >= 0) close(fd);

  char cwd[4096];
  mode_t mask = umask(0);
  printf("\",\"cwd\":");
  json_string(getcwd(cwd, sizeof cwd) ? cwd : "");
  printf(",\"umask\":%u,\"ppid\":%d,\"sid\":%d,\"pid\":%d,\"securebits\":%d}\n", (unsigned)mask, (int)getppid(), (int)getsid(0), (int)getpid(),
         prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
  return 0;
}
