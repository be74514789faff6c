#!/usr/bin/env bash
# Starts a private Apache ActiveMQ 5.17 broker (Debian 12 package `activemq`) in the FOREGROUND,
# for the MOSIP adapter tests: the script ends in `exec java ...`, so the PID the caller spawned
# is the broker's JVM and killing it (SIGTERM: clean shutdown; SIGKILL: crash) stops the broker.
#
#   mosip/tests/broker/activemq.sh DIR OPENWIRE_PORT STOMP_PORT
#
# Everything lives under DIR (created if missing): DIR/activemq.xml (the broker config written
# here), DIR/log4j.properties, DIR/activemq.log, and the KahaDB store DIR/kahadb, so persistent
# messages survive a consumer crash and a broker restart on the same DIR. Only two transport
# connectors, both on 127.0.0.1: OpenWire (what MOSIP's JMS client speaks) and STOMP 1.0/1.1/1.2
# (what the Rust adapter speaks). No web console, no JMX, no AMQP/MQTT/WS, no scheduler.
# Nothing is printed on stdout once Java starts; callers poll the STOMP port until a CONNECT is
# answered with CONNECTED. Works as root and as a normal user. See README.md in this folder.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 DIR OPENWIRE_PORT STOMP_PORT" >&2
  exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd -P)
openwire_port=$2
stomp_port=$3
for p in "$openwire_port" "$stomp_port"; do
  [[ "$p" =~ ^[0-9]+$ ]] && ((p > 0 && p < 65536)) || { echo "activemq.sh: bad port '$p'" >&2; exit 2; }
done

share=/usr/share/java
for jar in activemq-broker activemq-client activemq-kahadb-store activemq-stomp activemq-spring \
  activemq-console; do
  [ -f "$share/$jar.jar" ] || {
    echo "activemq.sh: $share/$jar.jar missing: apt-get install activemq" >&2
    exit 1
  }
done
java=${JAVA:-java}
command -v "$java" >/dev/null || { echo "activemq.sh: no java (apt-get install default-jre-headless)" >&2; exit 1; }

# A unique broker name: the brokerName is also the VM-transport and KahaDB lock identity, and shows
# up in message ids (ID:<host>-<port>-<time>-...), so two test brokers never look alike.
name="abis-test-$$-$openwire_port-$stomp_port"

# The only XML-special character a path could bring is '&' or '<'; refuse rather than escape.
case "$dir" in *[\&\<\>\"]*) echo "activemq.sh: DIR must not contain & < > \"" >&2; exit 2 ;; esac

cat >"$dir/activemq.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by mosip/tests/broker/activemq.sh: a private test broker, regenerated on each start. -->
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
         http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core"
          brokerName="$name"
          dataDirectory="$dir"
          tmpDataDirectory="$dir/tmp"
          persistent="true"
          useJmx="false"
          schedulerSupport="false"
          enableStatistics="false"
          populateJMSXUserID="false"
          useShutdownHook="true">
    <persistenceAdapter>
      <!-- Small journal files: the default 32 MB each is a waste for a test. -->
      <kahaDB directory="$dir/kahadb" journalMaxFileLength="4mb"/>
    </persistenceAdapter>
    <systemUsage>
      <!-- Explicit limits, so the broker does not warn about (or size itself by) the free disk. -->
      <systemUsage>
        <memoryUsage><memoryUsage limit="64 mb"/></memoryUsage>
        <storeUsage><storeUsage limit="1 gb"/></storeUsage>
        <tempUsage><tempUsage limit="256 mb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:$openwire_port"/>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$stomp_port"/>
    </transportConnectors>
  </broker>
</beans>
XML

cat >"$dir/log4j.properties" <<PROPS
# Written by mosip/tests/broker/activemq.sh: the broker logs to DIR/activemq.log, not stdout.
log4j.rootLogger=INFO, file
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/activemq.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
PROPS
mkdir -p "$dir/tmp"

# The Debian launcher (/usr/bin/activemq) runs `java -jar /usr/share/activemq/bin/activemq.jar
# start xbean:activemq.xml` (main class org.apache.activemq.console.Main, which puts
# /usr/share/activemq/lib and lib/optional on its class loader: Spring + xbean for the XML,
# log4j 1.2 + slf4j-log4j12 for logging, activemq-stomp for the stomp:// connector). We do the
# same, minus its daemonizing, with a small heap and JIT settings that favour start-up time.
# The --add-opens/--add-exports are the ones Debian's launcher passes on Java > 8.
cd "$dir"
exec "$java" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k \
  -Djava.awt.headless=true \
  -Dorg.apache.activemq.UseDedicatedTaskRunner=false \
  -Dlog4j.configuration="file:$dir/log4j.properties" \
  --add-reads=java.xml=java.logging \
  --add-opens java.base/java.security=ALL-UNNAMED \
  --add-opens java.base/java.net=ALL-UNNAMED \
  --add-opens java.base/java.lang=ALL-UNNAMED \
  --add-opens java.base/java.util=ALL-UNNAMED \
  --add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
  --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
  -Dactivemq.home=/usr/share/activemq \
  -Dactivemq.base="$dir" \
  -Dactivemq.conf="$dir" \
  -Dactivemq.data="$dir" \
  -Dactivemq.classpath="$dir" \
  -jar /usr/share/activemq/bin/activemq.jar start "xbean:file:$dir/activemq.xml" \
  >>"$dir/activemq.out" 2>&1
