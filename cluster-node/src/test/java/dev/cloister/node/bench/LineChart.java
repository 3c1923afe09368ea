package dev.cloister.node.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A small line chart written as PNG, for the benchmarks' scaling curves: series on a left axis,
 * optionally some on a right axis, points optionally labelled, x linear or in powers of two.
 * Java2D only (the JDK's), so a benchmark run draws its own picture with nothing to install.
 */
final class LineChart {

  /** One line: its points in x order, a label per point (null: none), dashed or solid. */
  record Series(String name, Color color, boolean dashed, boolean rightAxis, double[] x,
      double[] y, String[] labels) {}

  private final String title;
  private final String subtitle;
  private final String xLabel;
  private final String leftLabel;
  private final String rightLabel;
  private final boolean log2X;
  private final List<Series> series = new ArrayList<>();

  LineChart(String title, String subtitle, String xLabel, String leftLabel, String rightLabel,
      boolean log2X) {
    this.title = title;
    this.subtitle = subtitle;
    this.xLabel = xLabel;
    this.leftLabel = leftLabel;
    this.rightLabel = rightLabel;
    this.log2X = log2X;
  }

  LineChart add(Series s) {
    series.add(s);
    return this;
  }

  void write(Path file) throws IOException {
    System.setProperty("java.awt.headless", "true");
    int w = 900;
    int h = 560;
    int left = 90;
    int right = rightLabel == null ? 40 : 90;
    int top = 64;
    int bottom = 70;
    int pw = w - left - right;
    int ph = h - top - bottom;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING,
        RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);
    double minX = Double.MAX_VALUE;
    double maxX = 0;
    double maxLeft = 0;
    double maxRight = 0;
    List<Double> ticks = new ArrayList<>();
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        minX = Math.min(minX, s.x()[i]);
        maxX = Math.max(maxX, s.x()[i]);
        if (!ticks.contains(s.x()[i])) {
          ticks.add(s.x()[i]);
        }
        if (s.rightAxis()) {
          maxRight = Math.max(maxRight, s.y()[i]);
        } else {
          maxLeft = Math.max(maxLeft, s.y()[i]);
        }
      }
    }
    maxLeft = niceCeil(maxLeft * 1.1);
    maxRight = niceCeil(maxRight * 1.1);
    double x0 = log2X ? log2(minX) : 0;
    double x1 = log2X ? log2(maxX) : maxX;
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    g.setColor(Color.BLACK);
    g.drawString(title, left, 26);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.drawString(subtitle, left, 46);
    g.setColor(new Color(220, 220, 220));
    for (int i = 0; i <= 5; i++) {
      int y = top + ph - i * ph / 5;
      g.drawLine(left, y, left + pw, y);
    }
    g.setColor(Color.BLACK);
    g.drawRect(left, top, pw, ph);
    for (int i = 0; i <= 5; i++) {
      int y = top + ph - i * ph / 5;
      String l = axis(maxLeft * i / 5);
      g.drawString(l, left - 8 - g.getFontMetrics().stringWidth(l), y + 4);
      if (rightLabel != null) {
        g.drawString(axis(maxRight * i / 5), left + pw + 8, y + 4);
      }
    }
    for (double t : ticks) {
      int x = px(t, x0, x1, left, pw);
      String l = axis(t);
      g.drawString(l, x - g.getFontMetrics().stringWidth(l) / 2, top + ph + 18);
    }
    g.drawString(xLabel, left + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2,
        top + ph + 45);
    Graphics2D v = (Graphics2D) g.create();
    v.rotate(-Math.PI / 2);
    v.drawString(leftLabel, -(top + ph / 2 + v.getFontMetrics().stringWidth(leftLabel) / 2), 18);
    if (rightLabel != null) {
      v.drawString(rightLabel, -(top + ph / 2 + v.getFontMetrics().stringWidth(rightLabel) / 2),
          w - 10);
    }
    v.dispose();
    int ly = top + 18;
    for (Series s : series) {
      double max = s.rightAxis() ? maxRight : maxLeft;
      g.setColor(s.color());
      g.setStroke(s.dashed()
          ? new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f,
              new float[] {8f, 6f}, 0f)
          : new BasicStroke(2.5f));
      int prevX = -1;
      int prevY = -1;
      for (int i = 0; i < s.x().length; i++) {
        int x = px(s.x()[i], x0, x1, left, pw);
        int y = top + ph - (int) (ph * Math.min(s.y()[i], max) / max);
        if (prevX >= 0) {
          g.drawLine(prevX, prevY, x, y);
        }
        g.fillOval(x - 4, y - 4, 8, 8);
        if (s.labels() != null && s.labels()[i] != null) {
          String l = s.labels()[i];
          g.drawString(l, Math.min(x + 6, left + pw - g.getFontMetrics().stringWidth(l) - 2),
              y - 8);
        }
        prevX = x;
        prevY = y;
      }
      g.setStroke(new BasicStroke(1f));
      g.fillRect(left + 15, ly - 9, 22, 4);
      g.setColor(Color.BLACK);
      g.drawString(s.name() + (rightLabel != null && s.rightAxis() ? " (right axis)" : ""),
          left + 45, ly - 3);
      ly += 18;
    }
    g.dispose();
    ImageIO.write(img, "png", file.toFile());
  }

  private int px(double x, double x0, double x1, int left, int pw) {
    double v = log2X ? log2(x) : x;
    return left + (int) (pw * (v - x0) / Math.max(1e-9, x1 - x0));
  }

  private static double log2(double v) {
    return Math.log(Math.max(v, 1e-9)) / Math.log(2);
  }

  private static String axis(double v) {
    if (v >= 10_000) {
      return String.format(Locale.ROOT, "%,.0fk", v / 1000);
    }
    return v == Math.rint(v) ? String.format(Locale.ROOT, "%,.0f", v)
        : String.format(Locale.ROOT, "%.1f", v);
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
