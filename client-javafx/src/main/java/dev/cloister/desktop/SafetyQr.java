package dev.cloister.desktop;

import com.google.zxing.BarcodeFormat;
import com.google.zxing.EncodeHintType;
import com.google.zxing.WriterException;
import com.google.zxing.common.BitMatrix;
import com.google.zxing.qrcode.QRCodeWriter;
import com.google.zxing.qrcode.decoder.ErrorCorrectionLevel;
import java.util.Map;
import javafx.scene.image.Image;
import javafx.scene.image.PixelWriter;
import javafx.scene.image.WritableImage;
import javafx.scene.paint.Color;

/**
 * A safety number as a QR code (ZXing's encoder) for a phone to scan and compare: the 60 digits
 * alone, in QR's numeric mode, dark modules on white with the standard four-module quiet zone in
 * either theme (scanners want dark on light).
 */
final class SafetyQr {

  static final int QUIET_MODULES = 4;

  private SafetyQr() {}

  /** What the code holds: the number's digits, without the spaces and line breaks shown. */
  static String content(String safetyNumber) {
    String digits = safetyNumber.replaceAll("\\s+", "");
    if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit)) {
      throw new IllegalArgumentException("a safety number is digits and spaces, not '"
          + safetyNumber + "'");
    }
    return digits;
  }

  /** The modules, without a quiet zone: {@code [y][x]}, true = dark. */
  static boolean[][] modules(String safetyNumber) {
    try {
      BitMatrix m = new QRCodeWriter().encode(content(safetyNumber), BarcodeFormat.QR_CODE, 0, 0,
          Map.of(EncodeHintType.ERROR_CORRECTION, ErrorCorrectionLevel.M,
              EncodeHintType.MARGIN, 0));
      boolean[][] out = new boolean[m.getHeight()][m.getWidth()];
      for (int y = 0; y < m.getHeight(); y++) {
        for (int x = 0; x < m.getWidth(); x++) {
          out[y][x] = m.get(x, y);
        }
      }
      return out;
    } catch (WriterException e) {
      throw new IllegalStateException("QR code of a safety number: " + e.getMessage(), e);
    }
  }

  /** The code as an image, {@code scale} pixels a module, quiet zone included. */
  static Image image(String safetyNumber, int scale) {
    boolean[][] m = modules(safetyNumber);
    int side = (m.length + 2 * QUIET_MODULES) * scale;
    WritableImage img = new WritableImage(side, side);
    PixelWriter w = img.getPixelWriter();
    for (int py = 0; py < side; py++) {
      for (int px = 0; px < side; px++) {
        int y = py / scale - QUIET_MODULES;
        int x = px / scale - QUIET_MODULES;
        boolean dark = y >= 0 && x >= 0 && y < m.length && x < m.length && m[y][x];
        w.setColor(px, py, dark ? Color.BLACK : Color.WHITE);
      }
    }
    return img;
  }
}
