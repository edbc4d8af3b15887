/*
 * CSystemd: libsystemd's journal API, only in builds with the Journald
 * trait (swift build --traits Journald). The default build never sees it.
 *
 * SD_JOURNAL_SUPPRESS_LOCATION stops sd-journal.h from turning
 * sd_journal_sendv into a macro that adds CODE_FILE/CODE_LINE/CODE_FUNC of
 * this shim to every entry: they would name this header, not the event.
 */
#ifndef CSYSTEMD_H
#define CSYSTEMD_H

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <sys/uio.h>
#include <systemd/sd-journal.h>

/* Returns 0 or a negative errno. */
static inline int csd_journal_sendv(const struct iovec *iov, int n) {
    return sd_journal_sendv(iov, n);
}

#endif
