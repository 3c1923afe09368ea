package dev.cloister.sfu;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Standalone SFU ({@code ./cloister sfu}): configured from {@code CLOISTER_SFU_*}, stopped by SIGTERM. */
public final class SfuMain {

    private SfuMain() {
    }

    public static void main(String[] args) throws Exception {
        // The library jar ships no logback.xml (an embedding node brings its own); standalone uses ours.
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "cloister-sfu-logback.xml");
        }
        Logger log = LoggerFactory.getLogger(SfuMain.class);
        SfuConfig config;
        try {
            config = SfuConfig.fromConfig(ConfigFactory.load());
        } catch (IllegalArgumentException | ConfigException e) {
            System.err.println("cloister sfu: " + e.getMessage());
            System.exit(2);
            return;
        }
        SelectiveForwardingUnit sfu = new SelectiveForwardingUnit(config).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sfu.close();
            stopped.countDown();
        }, "sfu-shutdown"));
        log.info("SFU ready: udp {}:{} advertised as {}, control http://{}:{}, top-N {}", config.bindHost(),
                sfu.udpPort(), config.publicHost(), config.controlHost(), sfu.controlPort(), config.topN());
        stopped.await();
    }
}
