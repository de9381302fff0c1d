# linewatch - GNU Makefile.  Every library comes through pkg-config.
VERSION    := 0.1.0
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc/linewatch
DATADIR    ?= $(PREFIX)/share/linewatch
PLUGINDIR  ?= $(PREFIX)/lib/linewatch/plugins
STATEDIR   ?= /var/lib/linewatch
UNITDIR    ?= /lib/systemd/system
DESTDIR    ?=

SAN ?= 0
ifeq ($(SAN),1)
BUILD      ?= build-san
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT        := -O1
else
BUILD      ?= build
SANFLAGS   :=
OPT        := -O2
endif

# libcurl is not among them: linewatchd must not link it (its library closure
# is ~4 MB of resident pages in every daemon).  Only notify-curl.so, the
# probe plugins, linewatchctl, the unit tests and the fuzz harnesses do.
PKGS   := libevent libevent_pthreads libevent_openssl netsnmp librrd sqlite3 libconfuse \
          jansson libxcrypt openssl
# Nor libpcap: pcap_lib.c loads it when a capture, a replay or an evidence
# file needs it (dbus, systemd, gcrypt and compressors come with it: ~0.9 MB
# of resident pages in every daemon).  Its headers only.
PCAP_CFLAGS := $(shell pkg-config --cflags libpcap 2>/dev/null)
# nDPI application classification (capture { applications = yes }): the
# appclass-ndpi.so plugin, built when libndpi is installed, NDPI=0 to leave
# it out, NDPI=1 to insist.  Not in PKGS either: linewatchd must not link
# libndpi (~1 MB of resident pages in every daemon); only the plugin and the
# fuzz harnesses do.  LW_NDPI tells the core the plugin exists.
NDPI ?= $(shell pkg-config --exists libndpi 2>/dev/null && echo 1 || echo 0)
NDPI_SRCS := daemon/appclass.c
ifeq ($(NDPI),1)
NDPI_DEFS   := -DLW_NDPI
NDPI_CFLAGS := $(shell pkg-config --cflags libndpi 2>/dev/null)
NDPI_LIBS   := $(shell pkg-config --libs libndpi 2>/dev/null)
NDPI_PLUGIN := $(BUILD)/plugins/appclass-ndpi.so
NDPI_FUZZ   := $(NDPI_SRCS)
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null)
CFLAGS ?= $(OPT) -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 \
          -D_GNU_SOURCE -Idaemon $(SANFLAGS) $(PKG_CFLAGS) $(PCAP_CFLAGS) $(CURL_CFLAGS) $(NDPI_DEFS) \
          -DLW_VERSION='"$(VERSION)"' -DLW_SYSCONFDIR='"$(SYSCONFDIR)"' \
          -DLW_DATADIR='"$(DATADIR)"' -DLW_PLUGINDIR='"$(PLUGINDIR)"' -DLW_STATEDIR='"$(STATEDIR)"'
LDFLAGS += $(SANFLAGS) -rdynamic
LDLIBS  += $(PKG_LIBS) -lpthread -ldl -lm

DAEMON_SRCS := $(wildcard daemon/*.c)
# Webhooks and e-mail (libcurl): the notify-curl.so plugin, not the core.
NCURL_SRCS  := daemon/curlev.c daemon/webhook.c daemon/mail.c daemon/notify_curl.c
NCURL_OBJS  := $(patsubst daemon/%.c,$(BUILD)/obj/%.o,$(NCURL_SRCS))
CORE_SRCS   := $(filter-out daemon/main.c daemon/linewatchctl.c $(NCURL_SRCS) $(NDPI_SRCS),\
                            $(DAEMON_SRCS))
CORE_OBJS   := $(patsubst daemon/%.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
PLUGIN_SRCS := $(wildcard plugins/*.c)
PLUGINS     := $(patsubst plugins/%.c,$(BUILD)/plugins/%.so,$(PLUGIN_SRCS)) \
               $(BUILD)/plugins/notify-curl.so $(NDPI_PLUGIN)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

# Debian 12 packages needed to build, test, demo and benchmark.
DEPS := build-essential pkg-config clang libclang-rt-14-dev clang-format \
        libevent-dev libsnmp-dev libpcap-dev librrd-dev rrdtool rrdcached libsqlite3-dev sqlite3 \
        libconfuse-dev libjansson-dev libcurl4-openssl-dev libssl-dev libcrypt-dev libcmocka-dev \
        libndpi-dev \
        snmpsim snmp snmpd snmptrapd smitools nftables iproute2 tcpreplay tcpdump tshark chromium \
        python3-pytest python3-requests dnsmasq monitoring-plugins-basic python3-aiosmtpd iperf3 \
        python3-selenium chromium-driver valgrind curl openssl iputils-ping time prometheus collectd-core fping darkstat nginx-light wrk procps psmisc

# Root is needed for apt and network namespaces; as root we just run.
ifeq ($(shell id -u),0)
SUDO :=
else
SUDO := sudo
endif

.PHONY: all deps check unit fuzz demo bench install clean fmt sudo-note
all: $(BUILD)/linewatchd $(BUILD)/linewatchctl $(PLUGINS)

sudo-note:
	@if [ -n "$(SUDO)" ]; then echo "linewatch: not root, running privileged steps through sudo"; fi

deps: sudo-note
	@need=""; for p in $(DEPS); do \
		dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
		echo "linewatch: installing$$need"; \
		$(SUDO) apt-get update -qq >/dev/null && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null || exit 1; \
	fi

$(BUILD)/obj/%.o: daemon/%.c | $(BUILD)/obj
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj $(BUILD)/plugins $(BUILD)/tests $(BUILD)/fuzz:
	@mkdir -p $@

$(BUILD)/libcore.a: $(CORE_OBJS)
	@rm -f $@ && ar rcs $@ $^

# for the unit tests that call webhook/mail code directly
$(BUILD)/libnotifycurl.a: $(NCURL_OBJS)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/linewatchd: $(BUILD)/obj/main.o $(BUILD)/libcore.a
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/linewatchctl: $(BUILD)/obj/linewatchctl.o $(BUILD)/libcore.a
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

$(BUILD)/plugins/%.so: plugins/%.c daemon/linewatch_plugin.h | $(BUILD)/plugins
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -fPIC -shared -o $@ $< $(SANFLAGS) $(PKG_LIBS) $(CURL_LIBS) -lm

# Loaded by notify.c when a webhook or email is configured; log_* come from
# linewatchd (-rdynamic).  -Bsymbolic: its own functions bind inside it,
# even in a unit test that also links libnotifycurl.a.
$(BUILD)/plugins/notify-curl.so: $(NCURL_SRCS) $(wildcard daemon/*.h) | $(BUILD)/plugins
	@echo "  CC $@"
	@$(CC) $(CFLAGS) -fPIC -shared -Wl,-Bsymbolic -o $@ $(NCURL_SRCS) $(SANFLAGS) \
		$(CURL_LIBS) $(PKG_LIBS) -lpthread

# appclass_load.o has LW_NDPI compiled in: rebuilt when NDPI changes.
$(BUILD)/ndpi.$(NDPI): | $(BUILD)/obj
	@rm -f $(BUILD)/ndpi.[01] && touch $@
$(BUILD)/obj/appclass_load.o $(BUILD)/fuzzobj/appclass_load.o: $(BUILD)/ndpi.$(NDPI)

# Loaded by capture.c and replay.c only when applications are classified
# (appclass_load.c); it calls nothing of linewatchd's (-z defs).
$(BUILD)/plugins/appclass-ndpi.so: $(NDPI_SRCS) $(wildcard daemon/*.h) | $(BUILD)/plugins
	@echo "  CC $@"
	@$(CC) $(CFLAGS) $(NDPI_CFLAGS) -fPIC -shared -Wl,-Bsymbolic -Wl,-z,defs -o $@ \
		$(NDPI_SRCS) $(SANFLAGS) $(NDPI_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libcore.a $(BUILD)/libnotifycurl.a | $(BUILD)/tests
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libcore.a \
		$(BUILD)/libnotifycurl.a $(LDFLAGS) $(shell pkg-config --libs cmocka) $(LDLIBS) \
		$(CURL_LIBS)

# exec.so compiles the perfdata parser in (the daemon does not export it).
$(BUILD)/plugins/exec.so: daemon/perfdata.c daemon/perfdata.h
$(PLUGINS): $(wildcard plugins/*.h)

unit: all $(UNIT_BINS)

# libFuzzer harnesses: clang; the core is compiled once for them (no main).
FUZZ_DEFS   := -D_GNU_SOURCE -Idaemon $(PKG_CFLAGS) $(CURL_CFLAGS) $(NDPI_CFLAGS) $(NDPI_DEFS) \
               -DLW_VERSION='"$(VERSION)"' \
               -DLW_SYSCONFDIR='"$(SYSCONFDIR)"' -DLW_DATADIR='"$(DATADIR)"' \
               -DLW_PLUGINDIR='"$(PLUGINDIR)"' -DLW_STATEDIR='"$(STATEDIR)"' -DLW_FUZZING
# appclass.c is linked in (not dlopen()ed) so that libFuzzer sees its coverage
FUZZ_OBJS   := $(patsubst daemon/%.c,$(BUILD)/fuzzobj/%.o,$(CORE_SRCS) $(NCURL_SRCS) $(NDPI_FUZZ))
$(BUILD)/fuzzobj:
	@mkdir -p $@
$(BUILD)/fuzzobj/%.o: daemon/%.c | $(BUILD)/fuzzobj
	@echo "  CC (fuzz) $<"
	@clang -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(FUZZ_DEFS) -c -o $@ $<
$(BUILD)/libfuzzcore.a: $(FUZZ_OBJS)
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libfuzzcore.a | $(BUILD)/fuzz
	@echo "  LD (fuzz) $@"
	@clang -g -O1 -fsanitize=fuzzer,address,undefined $(FUZZ_DEFS) -o $@ $< \
		$(BUILD)/libfuzzcore.a -rdynamic $(PKG_LIBS) $(CURL_LIBS) $(NDPI_LIBS) -lpthread -ldl -lm

fuzz: $(FUZZ_BINS)

check: deps
	$(MAKE) --no-print-directory SAN=1 unit
	$(MAKE) --no-print-directory fuzz all
	@$(SUDO) env SAN_BUILD=build-san FUZZ_BUILD=$(BUILD) bash tests/run.sh

demo: deps all
	@$(SUDO) bash tests/lab/demo.sh $(BUILD)

bench: deps all
	@$(SUDO) bash tests/bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(DATADIR)/web $(DESTDIR)$(DATADIR)/profiles $(DESTDIR)$(DATADIR)/mibs \
		$(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(UNITDIR)
	install -d -m 0750 $(DESTDIR)$(STATEDIR)
	install -m 0755 $(BUILD)/linewatchd $(DESTDIR)$(SBINDIR)/linewatchd
	install -m 0755 $(BUILD)/linewatchctl $(DESTDIR)$(BINDIR)/linewatchctl
	[ -z "$(PLUGINS)" ] || install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	cp -R web/. $(DESTDIR)$(DATADIR)/web/
	[ -z "$$(ls etc/profiles)" ] || install -m 0644 etc/profiles/* $(DESTDIR)$(DATADIR)/profiles/
	[ -z "$$(ls etc/mibs)" ] || install -m 0644 etc/mibs/* $(DESTDIR)$(DATADIR)/mibs/
	install -m 0644 etc/linewatch.service $(DESTDIR)$(UNITDIR)/linewatch.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/linewatch.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/linewatch.conf (new one: linewatch.conf.dist)"; \
		install -m 0640 etc/linewatch.conf $(DESTDIR)$(SYSCONFDIR)/linewatch.conf.dist; \
	else install -m 0640 etc/linewatch.conf $(DESTDIR)$(SYSCONFDIR)/linewatch.conf; fi

fmt:
	clang-format -i daemon/*.c daemon/*.h $(wildcard plugins/*.c plugins/*.h) $(UNIT_SRCS) $(FUZZ_SRCS)

clean:
	rm -rf build build-san tests/out

-include $(wildcard $(BUILD)/obj/*.d)
-include $(wildcard $(BUILD)/plugins/*.d)
