#ifndef CTESTSUPPORT_H
#define CTESTSUPPORT_H
#include <sys/types.h>

/// pidfd_open(2): a descriptor that names this process and no later one with the same pid, or -1.
int ctest_pidfd_open(pid_t pid);
/// pidfd_send_signal(2): 0, or -1 (ESRCH once the process has ended, even if its pid was reused).
int ctest_pidfd_send_signal(int pidfd, int signal);

#endif
