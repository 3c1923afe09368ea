package dev.cloister.desktop;

import com.google.zxing.BinaryBitmap;
import com.google.zxing.DecodeHintType;
import com.google.zxing.RGBLuminanceSource;
import com.google.zxing.common.HybridBinarizer;
import com.google.zxing.qrcode.QRCodeReader;
import java.util.Map;
import javafx.scene.image.Image;
import javafx.scene.image.PixelReader;

/** Reads QR codes back with ZXing's decoder, from modules or from pixels on screen. */
final class QrRead {

  private QrRead() {}

  /** Decodes modules ({@code [y][x]}, true dark) drawn {@code scale} pixels a module. */
  static String decode(boolean[][] modules, int scale) throws Exception {
    int q = SafetyQr.QUIET_MODULES;
    int side = (modules.length + 2 * q) * scale;
    int[] argb = new int[side * side];
    for (int py = 0; py < side; py++) {
      for (int px = 0; px < side; px++) {
        int y = py / scale - q;
        int x = px / scale - q;
        boolean dark = y >= 0 && x >= 0 && y < modules.length && x < modules.length
            && modules[y][x];
        argb[py * side + px] = dark ? 0xFF000000 : 0xFFFFFFFF;
      }
    }
    return decode(argb, side, side);
  }

  /** Decodes an image (a snapshot of the dialog's code, say). */
  static String decode(Image image) throws Exception {
    int w = (int) image.getWidth();
    int h = (int) image.getHeight();
    int[] argb = new int[w * h];
    PixelReader r = image.getPixelReader();
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        argb[y * w + x] = r.getArgb(x, y);
      }
    }
    return decode(argb, w, h);
  }

  private static String decode(int[] argb, int w, int h) throws Exception {
    BinaryBitmap bitmap = new BinaryBitmap(new HybridBinarizer(
        new RGBLuminanceSource(w, h, argb)));
    return new QRCodeReader().decode(bitmap, Map.of(DecodeHintType.PURE_BARCODE, Boolean.FALSE))
        .getText();
  }
}
