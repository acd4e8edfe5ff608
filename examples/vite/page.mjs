// Opens the built Vite app (served by the emulator at $CLAWCHAT_EMULATOR_URL) in Debian's
// Chromium and waits for its exchange. Exits non-zero unless both messages arrived.
import { chromium } from "playwright-core";

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await page.goto(process.env.CLAWCHAT_EMULATOR_URL);
  await page.waitForSelector("#result[data-result], #result[data-error]", { timeout: 30_000 });
  const error = await page.getAttribute("#result", "data-error");
  if (error) throw new Error(error);
  const result = JSON.parse(await page.getAttribute("#result", "data-result"));
  console.log(JSON.stringify({ runtime: `vite app in chromium ${browser.version()}`, ...result }));
  if (result.bobGot !== "hello from vite" || result.annGot !== "hello back") process.exitCode = 1;
} finally {
  await browser.close();
}
