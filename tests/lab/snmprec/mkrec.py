#!/usr/bin/python3
"""Generate the lab's snmpsim recordings (*.snmprec) in this directory.

The .snmprec files are committed; run this script after editing the tables
below and commit both.  The rates here are the single source of truth: they
are copied into tests/lab/README.md and tests/system/lab.py (a test in
test_lab.py checks that lab.py matches the generated files).

snmprec line format: OID|TAG|VALUE  or  OID|TAG:MODULE|MODULE-ARGS
  tags: 2 Integer, 4 OctetString, 6 OID, 64 IpAddress, 65 Counter32,
        66 Gauge32, 67 TimeTicks, 70 Counter64; a trailing 'x' = hex value.
Records must be sorted by OID (snmpsimd answers GETNEXT from file order).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

MIB2 = '1.3.6.1.2.1'
SYS = MIB2 + '.1'
IF = MIB2 + '.2'
IFX = MIB2 + '.31.1.1.1'
UPS = MIB2 + '.33.1'

C32_MAX = 4294967295

# ----------------------------------------------------------------- router ---
# Interfaces of the simulated edge router (ifIndex deliberately not contiguous).
# Rates are bytes (octets) per second, errors/discards per second.
IFACES = [
    dict(idx=1, name='Gi1/0/1', descr='GigabitEthernet1/0/1', alias='ISP fibre ABC-12345',
         type=6, mtu=1500, speed=100000000, high=100, mac='0050569a0001',
         admin=1, oper=1,
         in_rate=1250000, out_rate=250000, in_initial32_wrap_after=20,
         in_err=1.0, out_err=0, in_disc=0.5, out_disc=0, pkt=1000),
    dict(idx=2, name='Gi1/0/2', descr='GigabitEthernet1/0/2', alias='LAN office switch',
         type=6, mtu=1500, speed=1000000000, high=1000, mac='0050569a0002',
         admin=1, oper=1,
         in_rate=250000, out_rate=1250000, in_initial32_wrap_after=None,
         in_err=0, out_err=0, in_disc=0, out_disc=0.1, pkt=1000),
    dict(idx=5, name='Te1/1/1', descr='TenGigabitEthernet1/1/1', alias='spare uplink (shut)',
         type=6, mtu=9000, speed=C32_MAX, high=10000, mac='0050569a0005',
         admin=2, oper=2,
         in_rate=0, out_rate=0, in_initial32_wrap_after=None,
         in_err=0, out_err=0, in_disc=0, out_disc=0, pkt=1000),
    dict(idx=20, name='Lo0', descr='Loopback0', alias='router-id',
         type=24, mtu=1514, speed=0, high=0, mac='',
         admin=1, oper=1,
         in_rate=100, out_rate=100, in_initial32_wrap_after=None,
         in_err=0, out_err=0, in_disc=0, out_disc=0, pkt=100),
]


def hex_of(s):
    return s.encode('utf-8').hex()


def octets(s):
    """OctetString record value; hex-encode anything that is not plain."""
    if s == '' or all(c.isalnum() or c in ' ./-_,:()' for c in s):
        return '4', s
    return '4x', hex_of(s)


def counter(tag, rate, initial, wrap=False):
    if not rate:
        return str(tag), str(int(initial))
    args = 'rate=%s,initial=%d' % (rate, initial)
    if wrap:
        args += ',wrap=1'
    return '%s:numeric' % tag, args


def system_group(descr, objid, name, location, contact, services):
    return [
        (SYS + '.1.0',) + octets(descr),
        (SYS + '.2.0', '6', objid),
        (SYS + '.3.0', '67:numeric', 'rate=100,initial=0'),
        (SYS + '.4.0',) + octets(contact),
        (SYS + '.5.0',) + octets(name),
        (SYS + '.6.0',) + octets(location),
        (SYS + '.7.0', '2', str(services)),
    ]


def router_records(descr, name, alias_override=None):
    recs = system_group(descr, '1.3.6.1.4.1.8072.3.2.10', name,
                        'Lab rack 1, Building A', 'noc@example.invalid', 6)
    recs.append((IF + '.1.0', '2', str(len(IFACES))))
    for i in IFACES:
        x = i['idx']
        col = lambda c: IF + '.2.1.%d.%d' % (c, x)
        xcol = lambda c: IFX + '.%d.%d' % (c, x)
        alias = i['alias']
        if alias_override and x in alias_override:
            alias = alias_override[x]
        # 32-bit in-octets: same rate as the 64-bit one; on the WAN it starts
        # close to 2^32 so that it wraps <wrap_after> seconds after (re)boot.
        if i['in_initial32_wrap_after']:
            init32 = C32_MAX - i['in_rate'] * i['in_initial32_wrap_after']
        else:
            init32 = 1000000
        init64 = 3 * (C32_MAX + 1) + init32
        pk_in = i['in_rate'] / i['pkt']
        pk_out = i['out_rate'] / i['pkt']
        recs += [
            (col(1), '2', str(x)),
            (col(2),) + octets(i['descr']),
            (col(3), '2', str(i['type'])),
            (col(4), '2', str(i['mtu'])),
            (col(5), '66', str(i['speed'])),
            (col(6), '4x', i['mac']),
            (col(7), '2:writecache', 'value=%d' % i['admin']),
            (col(8), '2:writecache', 'value=%d' % i['oper']),
            (col(9), '67', '0'),
            (col(10),) + counter(65, i['in_rate'], init32, wrap=True),
            (col(11),) + counter(65, pk_in, 5000, wrap=True),
            (col(13),) + counter(65, i['in_disc'], 0, wrap=True),
            (col(14),) + counter(65, i['in_err'], 0, wrap=True),
            (col(15), '65', '0'),
            (col(16),) + counter(65, i['out_rate'], 2000000, wrap=True),
            (col(17),) + counter(65, pk_out, 4000, wrap=True),
            (col(19),) + counter(65, i['out_disc'], 0, wrap=True),
            (col(20),) + counter(65, i['out_err'], 0, wrap=True),
            (xcol(1),) + octets(i['name']),
            (xcol(2), '65', '0'),
            (xcol(3), '65', '0'),
            (xcol(4), '65', '0'),
            (xcol(5), '65', '0'),
            (xcol(6),) + counter(70, i['in_rate'], init64),
            (xcol(7),) + counter(70, pk_in, 5000),
            (xcol(10),) + counter(70, i['out_rate'], 3 * (C32_MAX + 1) + 2000000),
            (xcol(11),) + counter(70, pk_out, 4000),
            (xcol(14), '2', '1'),
            (xcol(15), '66', str(i['high'])),
            (xcol(16), '2', '2'),
            (xcol(17), '2', '1' if i['type'] == 6 else '2'),
            (xcol(18), '4:writecache', 'hexvalue=' + hex_of(alias)) if alias else (xcol(18), '4', ''),
            (xcol(19), '67', '0'),
        ]
    return recs


def ups_records():
    recs = system_group('LabPower LP-1500 UPS, firmware 3.2 (linewatch lab)',
                        '1.3.6.1.2.1.33', 'ups-01', 'Lab rack 1, bottom',
                        'facilities@example.invalid', 72)
    recs += [
        (UPS + '.1.1.0',) + octets('LabPower'),
        (UPS + '.1.2.0',) + octets('LP-1500'),
        (UPS + '.1.3.0',) + octets('3.2'),
        (UPS + '.1.4.0',) + octets('agent 1.0'),
        (UPS + '.1.5.0',) + octets('ups-01'),
        (UPS + '.1.6.0',) + octets('lab rack 1'),
        # upsBatteryStatus: 1 unknown, 2 batteryNormal, 3 batteryLow, 4 batteryDepleted
        (UPS + '.2.1.0', '2:writecache', 'value=2'),
        (UPS + '.2.2.0', '2:writecache', 'value=0'),          # upsSecondsOnBattery
        (UPS + '.2.3.0', '2:writecache', 'value=42'),         # upsEstimatedMinutesRemaining
        (UPS + '.2.4.0', '2:writecache', 'value=100'),        # upsEstimatedChargeRemaining
        (UPS + '.2.5.0', '2', '276'),                         # upsBatteryVoltage 0.1 V
        (UPS + '.2.7.0', '2', '25'),                          # upsBatteryTemperature
        (UPS + '.3.1.0', '65', '0'),                          # upsInputLineBads
        (UPS + '.3.2.0', '2', '1'),                           # upsInputNumLines
        (UPS + '.3.3.1.1.1', '2', '1'),
        (UPS + '.3.3.1.2.1', '2', '500'),                     # frequency 0.1 Hz
        (UPS + '.3.3.1.3.1', '2:writecache', 'value=230'),    # input voltage
        # upsOutputSource: 1 other 2 none 3 normal 4 bypass 5 battery 6 booster 7 reducer
        (UPS + '.4.1.0', '2:writecache', 'value=3'),
        (UPS + '.4.2.0', '2', '500'),
        (UPS + '.4.3.0', '2', '1'),
        (UPS + '.4.4.1.1.1', '2', '1'),
        (UPS + '.4.4.1.2.1', '2', '230'),
        (UPS + '.4.4.1.3.1', '2', '12'),
        (UPS + '.4.4.1.4.1', '2', '250'),
        (UPS + '.4.4.1.5.1', '2:writecache', 'value=25'),     # upsOutputPercentLoad
        (UPS + '.6.1.0', '66:writecache', 'value=0'),         # upsAlarmsPresent
    ]
    return recs


def oid_key(rec):
    return tuple(int(p) for p in rec[0].split('.'))


def write(name, recs):
    recs = sorted(recs, key=oid_key)
    seen = set()
    with open(os.path.join(HERE, name), 'w') as f:
        for oid, tag, val in recs:
            assert oid not in seen, oid
            seen.add(oid)
            f.write('%s|%s|%s\n' % (oid, tag, val))


XSS_DESCR = '<script>alert(1)</script>'
XSS_ALIAS = '"><img src=x onerror=alert(1)>'


def main():
    write('router.snmprec', router_records(
        'LW-Sim EdgeRouter ER-1100, firmware 2.4.1 (linewatch lab)', 'rtr-edge-01'))
    write('xss.snmprec', router_records(
        XSS_DESCR, "rtr-<b>xss</b>&amp;'",
        alias_override={1: XSS_ALIAS, 2: '<svg onload=alert(2)>', 20: "' OR '1'='1"}))
    write('ups.snmprec', ups_records())


if __name__ == '__main__':
    main()
