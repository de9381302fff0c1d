/* replay.h - offline mode: the live decoder and aggregator over a file.
 *
 *   linewatchd --replay FILE.pcap [-c CONFIG] [--capture NAME] [--top N]
 *              [--local CIDR]... [--intervals] [--table]
 *
 * Reads a pcap/pcapng file as fast as it can and prints the report: one
 * JSON object for the whole file (default), one JSON line per interval with
 * --intervals, or readable tables with --table.  Settings (memory, sample,
 * interval) come from the capture section NAME (default the first) of
 * CONFIG when one is given.
 */
#ifndef LW_REPLAY_H
#define LW_REPLAY_H

/* argv as main() got it (it contains --replay FILE); returns the exit code. */
int replay_main(int argc, char **argv);

#endif
