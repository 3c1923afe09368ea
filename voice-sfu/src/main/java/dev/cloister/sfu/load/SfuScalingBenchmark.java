package dev.cloister.sfu.load;

import dev.cloister.sfu.SfuMain;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * The SFU's forwarded packets per CPU-second against this machine's loopback UDP fan-out ceiling,
 * measured side by side for each conference size: for every size the ceiling program
 * ({@code shared/bench/udp_ceiling.c}, compiled here with gcc) runs first with that many
 * receivers, then {@link LoadGenerator} drives a standalone SFU (its own JVM, {@link SfuMain}) with
 * real UDP sockets: 3 speakers, everyone listening. SFU CPU is the SFU process's CPU time over the
 * measured window (all its threads, GC included), so "per CPU-second" compares like with like:
 * the ceiling's figure is per CPU-second of its sending thread, kernel delivery included.
 *
 * <pre>
 * mvn -B -q -pl voice-sfu -am package -DskipTests
 * java -cp "voice-sfu/target/classes:voice-sfu/target/lib/*" dev.cloister.sfu.load.SfuScalingBenchmark \
 *     [--sizes=100,500,1000,1500] [--duration=10] [--ceiling-seconds=5] [--io-threads=2]
 *     [--warmup-size=500] [--warmup-seconds=20] [--ceiling-source=../shared/bench/udp_ceiling.c] [--png=sfu-scaling.png]
 *     [--jfr=/tmp/sfu.jfr]
 * </pre>
 */
public final class SfuScalingBenchmark {

    private static final Pattern READY = Pattern.compile("udp [^ ]+:(\\d+) .*control http://([^ ,]+):(\\d+)");
    private static final Pattern CEILING = Pattern.compile("sent (\\d+) pps, (\\d+) per sender CPU-second");

    record Row(int endpoints, double ceilingPps, double ceilingPerCpu, LoadGenerator.Result result) {
        double forwardedPerSecond() {
            return result.sfuDelta().getOrDefault("forwarded", 0L) / result.seconds();
        }

        double sfuCpuCores() {
            return result.sfuDelta().getOrDefault("processCpuMillis", 0L) / 1000.0 / result.seconds();
        }

        double perCpuSecond() {
            double cpu = sfuCpuCores();
            return cpu <= 0 ? Double.NaN : forwardedPerSecond() / cpu;
        }

        double ratio() {
            return perCpuSecond() / ceilingPerCpu;
        }
    }

    private SfuScalingBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "cloister-sfu-logback.xml");
        }
        List<Integer> sizes = List.of(100, 500, 1000, 1500);
        int duration = 10;
        int ceilingSeconds = 5;
        int ioThreads = 0;
        String source = null;
        String png = null;
        String jfr = null;
        int warmupSize = 500;
        // perf of the SFU at 500 endpoints after an 8 s warm-up, load average 9: its C2 compiler thread still had
        // 15 % of the SFU's samples in the measured window, counted as forwarding cost.
        int warmupSeconds = 20;
        for (String a : args) {
            String[] kv = a.split("=", 2);
            String v = kv.length > 1 ? kv[1] : "";
            switch (kv[0]) {
                case "--sizes" -> {
                    List<Integer> s = new ArrayList<>();
                    for (String x : v.split(",")) {
                        s.add(Integer.parseInt(x.trim()));
                    }
                    sizes = s;
                }
                case "--duration" -> duration = Integer.parseInt(v);
                case "--ceiling-seconds" -> ceilingSeconds = Integer.parseInt(v);
                case "--io-threads" -> ioThreads = Integer.parseInt(v);
                case "--ceiling-source" -> source = v;
                case "--png" -> png = v;
                case "--jfr" -> jfr = v;
                case "--warmup-size" -> warmupSize = Integer.parseInt(v);
                case "--warmup-seconds" -> warmupSeconds = Math.max(4, Integer.parseInt(v));
                default -> throw new IllegalArgumentException("unknown option " + a + " (known: --sizes --duration"
                        + " --ceiling-seconds --io-threads --warmup-size --warmup-seconds --ceiling-source --png --jfr)");
            }
        }
        Path ceiling = compileCeiling(source);
        String loadAtStart = loadAverage();
        System.out.printf(Locale.ROOT, "host: %d cores, loopback; load average at start %s%n",
                Runtime.getRuntime().availableProcessors(), loadAtStart);

        Process sfu = startSfu(ioThreads, jfr);
        List<Row> rows = new ArrayList<>();
        try {
            String control = awaitReady(sfu);
            System.out.println("SFU (own JVM, pid " + sfu.pid() + "): control " + control);
            if (warmupSize > 0) {
                // Unmeasured: a fresh SFU spends ~20 % of its CPU in the C1/C2 compiler threads during its first
                // runs (perf, 500 endpoints), which is start-up cost, not forwarding cost.
                System.out.printf(Locale.ROOT, "warm-up: %d endpoints for %d s (not measured)%n", warmupSize, warmupSeconds);
                try {
                    new LoadGenerator(new LoadGenerator.Options(control, warmupSize, 3, 3, warmupSeconds - 3, 2, null))
                            .run(warmupSize);
                } catch (IllegalStateException e) {
                    System.out.println("warm-up failed (" + e.getMessage() + "); measuring anyway");
                }
            }
            for (int n : sizes) {
                double[] c = ceiling == null ? new double[] {Double.NaN, Double.NaN} : runCeiling(ceiling, n, ceilingSeconds);
                System.out.printf(Locale.ROOT, "%nceiling, %d receivers: %,.0f datagrams/s sent, %,.0f per sender CPU-second%n",
                        n, c[0], c[1]);
                System.out.println("load average " + loadAverage());
                LoadGenerator generator = new LoadGenerator(new LoadGenerator.Options(control, n, 3, 3, duration, 2, null));
                try {
                    LoadGenerator.Result r = generator.run(n);
                    LoadGenerator.print(r);
                    rows.add(new Row(n, c[0], c[1], r));
                } catch (IllegalStateException e) {
                    // e.g. endpoints that could not bind within 20 s on a machine this loaded: say so, go on
                    System.out.printf(Locale.ROOT, "%d endpoints: not measured: %s%n", n, e.getMessage());
                }
            }
        } finally {
            sfu.destroy(); // SIGTERM to the SFU's own pid: SfuMain closes and, with --jfr, the recording is written
            if (!sfu.waitFor(15, TimeUnit.SECONDS)) {
                sfu.destroyForcibly();
            }
        }

        System.out.printf(Locale.ROOT, "%nSFU scaling (3 speakers x 50 pkt/s, everyone listens; %d s measured per size; load average now %s)%n",
                duration, loadAverage());
        System.out.printf(Locale.ROOT, "%9s %14s %14s %9s %14s %7s %9s %9s %9s%n", "endpoints", "ceiling/CPU-s",
                "SFU fwd/s", "SFU CPU", "SFU fwd/CPU-s", "ratio", "loss %", "p50 ms", "p99 ms");
        for (Row row : rows) {
            System.out.printf(Locale.ROOT, "%9d %,14.0f %,14.0f %8.0f%% %,14.0f %6.2fx %9.4f %9.2f %9.2f%n",
                    row.endpoints(), row.ceilingPerCpu(), row.forwardedPerSecond(), 100 * row.sfuCpuCores(),
                    row.perCpuSecond(), row.ratio(), 100 * row.result().loss(), row.result().p50Micros() / 1000,
                    row.result().p99Micros() / 1000);
        }
        if (png != null) {
            plot(rows, Paths.get(png), loadAtStart);
            System.out.println("plot: " + png);
        }
    }

    /** Compiles the ceiling program with gcc into a temporary file; null (and a note) if it cannot. */
    static Path compileCeiling(String source) throws IOException, InterruptedException {
        Path c = source != null ? Paths.get(source) : findUpwards("shared/bench/udp_ceiling.c");
        if (c == null || !Files.isRegularFile(c)) {
            System.out.println("ceiling: udp_ceiling.c not found (give --ceiling-source=...); ceiling columns empty");
            return null;
        }
        Path exe = Files.createTempFile("udp_ceiling", "");
        exe.toFile().deleteOnExit();
        // The program binds receivers at 40000 + i, inside Linux's ephemeral range (32768-60999), where other
        // processes' sockets took one of 1,000 consecutive ports in every run on this busy machine; the same
        // program with its ports at 20000 + i (outside that range) measures the same thing.
        String text = Files.readString(c);
        if (text.contains("base=40000")) {
            Path moved = Files.createTempFile("udp_ceiling", ".c");
            moved.toFile().deleteOnExit();
            Files.writeString(moved, text.replace("base=40000", "base=20000"));
            System.out.println("ceiling: " + c + " with its receiver ports moved from 40000+i to 20000+i");
            c = moved;
        }
        Process gcc;
        try {
            gcc = new ProcessBuilder("gcc", "-O2", "-o", exe.toString(), c.toString()).inheritIO().start();
        } catch (IOException e) {
            System.out.println("ceiling: gcc not available (" + e.getMessage() + "); ceiling columns empty");
            return null;
        }
        if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
            gcc.destroyForcibly();
            System.out.println("ceiling: gcc failed on " + c + "; ceiling columns empty");
            return null;
        }
        return exe;
    }

    private static Path findUpwards(String relative) {
        Path dir = Paths.get("").toAbsolutePath();
        for (int i = 0; i < 4 && dir != null; i++, dir = dir.getParent()) {
            Path p = dir.resolve(relative);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** Runs the ceiling program; returns {datagrams/s sent, per sender CPU-second}. */
    static double[] runCeiling(Path exe, int receivers, int seconds) throws IOException, InterruptedException {
        // udp_ceiling binds the fixed ports 40000.. (one per receiver); another process may hold one of them for a moment.
        for (int attempt = 1; ; attempt++) {
            double[] r = runCeilingOnce(exe, receivers, seconds, attempt == 5);
            if (r != null) {
                return r;
            }
            if (attempt == 5) {
                return new double[] {Double.NaN, Double.NaN};
            }
            Thread.sleep(2000);
        }
    }

    private static double[] runCeilingOnce(Path exe, int receivers, int seconds, boolean last)
            throws IOException, InterruptedException {
        Process p = new ProcessBuilder(exe.toString(), Integer.toString(receivers), Integer.toString(seconds))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(seconds + 30L, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        Matcher m = CEILING.matcher(out);
        if (!m.find()) {
            System.out.println("ceiling: " + out.trim() + (last ? "; giving up" : "; trying again"));
            return null;
        }
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }

    private static Process startSfu(int ioThreads, String jfr) throws IOException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.add("-Xms512m");
        cmd.add("-Xmx512m");
        if (jfr != null) {
            cmd.add("-XX:StartFlightRecording=filename=" + jfr + ",settings=profile");
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(SfuMain.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("CLOISTER_SFU_UDP_PORT", "0");
        pb.environment().put("CLOISTER_SFU_CONTROL_PORT", "0");
        pb.environment().put("CLOISTER_SFU_BIND_HOST", "127.0.0.1");
        pb.environment().put("CLOISTER_SFU_PUBLIC_HOST", "127.0.0.1");
        pb.environment().put("CLOISTER_SFU_CONTROL_HOST", "127.0.0.1");
        pb.environment().remove("CLOISTER_SFU_SECRET");
        if (ioThreads > 0) {
            pb.environment().put("CLOISTER_SFU_IO_THREADS", Integer.toString(ioThreads));
        }
        return pb.start();
    }

    /** Reads the SFU's log until its ready line (then keeps draining it); returns the control URL. */
    private static String awaitReady(Process sfu) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(sfu.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try {
                for (String line; (line = in.readLine()) != null; ) {
                    Matcher m = READY.matcher(line);
                    if (!ready.isDone() && m.find()) {
                        ready.complete("http://" + m.group(2) + ":" + m.group(3));
                    } else if (line.contains("WARN") || line.contains("ERROR")) {
                        System.out.println("  sfu: " + line);
                    }
                }
                ready.completeExceptionally(new IllegalStateException("SFU exited before it was ready"));
            } catch (IOException e) {
                ready.completeExceptionally(e);
            }
        }, "sfu-log");
        reader.setDaemon(true);
        reader.start();
        return ready.get(60, TimeUnit.SECONDS);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Paths.get("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /**
     * A line chart: packets per CPU-second (ceiling and SFU) and p99 against conference size; each
     * SFU point is labelled with its ratio and, where packets were lost, the loss (a ratio measured
     * while the generator fell behind is no capacity figure).
     */
    static void plot(List<Row> rows, Path file, String loadAtStart) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 900;
        int h = 560;
        int left = 90;
        int right = 80;
        int top = 64;
        int bottom = 70;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double maxX = rows.stream().mapToInt(Row::endpoints).max().orElse(1);
        double maxY = 0;
        double maxP99 = 0;
        for (Row r : rows) {
            maxY = Math.max(maxY, nz(r.ceilingPerCpu()));
            maxY = Math.max(maxY, nz(r.perCpuSecond()));
            maxP99 = Math.max(maxP99, r.result().p99Micros() / 1000);
        }
        maxY = niceCeil(maxY * 1.1);
        maxP99 = niceCeil(Math.max(maxP99 * 1.1, 20));
        int pw = w - left - right;
        int ph = h - top - bottom;
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.setColor(Color.BLACK);
        g.drawString("SFU forwarded packets per CPU-second vs. loopback UDP ceiling (same run)", left, 26);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString(String.format(Locale.ROOT, "%d cores, loopback, %s UTC, load average at the start %s, at the end %s",
                Runtime.getRuntime().availableProcessors(),
                java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).withNano(0), firstThree(loadAtStart),
                firstThree(loadAverage())), left, 46);
        g.setColor(new Color(220, 220, 220));
        for (int i = 0; i <= 5; i++) {
            int y = top + ph - i * ph / 5;
            g.drawLine(left, y, left + pw, y);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, pw, ph);
        for (int i = 0; i <= 5; i++) {
            int y = top + ph - i * ph / 5;
            String label = String.format(Locale.ROOT, "%,.0fk", maxY * i / 5 / 1000);
            g.drawString(label, left - 8 - g.getFontMetrics().stringWidth(label), y + 4);
            String p = String.format(Locale.ROOT, "%.0f ms", maxP99 * i / 5);
            g.drawString(p, left + pw + 8, y + 4);
        }
        for (Row r : rows) {
            int x = left + (int) (pw * r.endpoints() / maxX);
            String label = Integer.toString(r.endpoints());
            g.drawString(label, x - g.getFontMetrics().stringWidth(label) / 2, top + ph + 18);
        }
        g.drawString("conference size (endpoints; 3 speakers, all listening)", left + pw / 2 - 150, top + ph + 45);
        Color ceilingColor = new Color(120, 120, 120);
        Color sfuColor = new Color(30, 100, 200);
        Color p99Color = new Color(200, 60, 40);
        series(g, rows, Row::ceilingPerCpu, maxX, maxY, left, top, pw, ph, ceilingColor, true);
        series(g, rows, Row::perCpuSecond, maxX, maxY, left, top, pw, ph, sfuColor, false);
        series(g, rows, r -> r.result().p99Micros() / 1000, maxX, maxP99, left, top, pw, ph, p99Color, true);
        int ly = top + 18;
        legend(g, left + 15, ly, ceilingColor, "ceiling: udp_ceiling datagrams per sender CPU-second");
        legend(g, left + 15, ly + 18, sfuColor, "SFU: forwarded packets per SFU CPU-second (ratio labelled)");
        legend(g, left + 15, ly + 36, p99Color, "p99 forwarding delay (right axis; the histogram stops at 1 s)");
        g.setColor(sfuColor);
        for (Row r : rows) {
            if (Double.isNaN(r.ratio())) {
                continue;
            }
            int x = left + (int) (pw * r.endpoints() / maxX);
            int y = top + ph - (int) (ph * nz(r.perCpuSecond()) / maxY);
            double loss = 100 * r.result().loss();
            String label = loss < 0.1 ? String.format(Locale.ROOT, "%.2fx", r.ratio())
                    : String.format(Locale.ROOT, "%.2fx, loss %.0f %%", r.ratio(), loss);
            g.drawString(label, Math.min(x + 6, left + pw - g.getFontMetrics().stringWidth(label) - 2), y + 16);
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static String firstThree(String loadavg) {
        String[] f = loadavg.split(" ");
        return f.length < 3 ? loadavg : f[0] + " " + f[1] + " " + f[2];
    }

    private interface Metric {
        double of(Row r);
    }

    private static void series(Graphics2D g, List<Row> rows, Metric m, double maxX, double maxY, int left, int top,
                               int pw, int ph, Color color, boolean dashed) {
        g.setColor(color);
        g.setStroke(dashed ? new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f, new float[] {8f, 6f}, 0f)
                : new BasicStroke(2.5f));
        int px = -1;
        int py = -1;
        for (Row r : rows) {
            double v = m.of(r);
            if (Double.isNaN(v)) {
                continue;
            }
            int x = left + (int) (pw * r.endpoints() / maxX);
            int y = top + ph - (int) (ph * Math.min(v, maxY) / maxY);
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            g.fillOval(x - 4, y - 4, 8, 8);
            px = x;
            py = y;
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static void legend(Graphics2D g, int x, int y, Color c, String text) {
        g.setColor(c);
        g.fillRect(x, y - 9, 22, 4);
        g.setColor(Color.BLACK);
        g.drawString(text, x + 30, y - 3);
    }

    private static double nz(double v) {
        return Double.isNaN(v) ? 0 : v;
    }

    private static double niceCeil(double v) {
        if (v <= 0) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }
}
