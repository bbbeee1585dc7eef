// mocap3d sync box — reference firmware for an Arduino Uno / Nano (ATmega328P, 16 MHz).
//
// Emits TTL pulses on pin 9 from its own crystal clock and counts them, speaking the line
// protocol of mocap3d.acquisition.syncbox over USB serial at 115200 baud:
//
//   (after reset)   -> READY mocap3d-syncbox 1
//   ID?             -> ID mocap3d-syncbox 1 <BOX_SERIAL>
//   START fps [n]   -> OK START <fps actually generated> <n>   (n = 0 or omitted: until STOP)
//   STOP            -> OK STOP <count>     no new pulse starts; the one in progress completes
//   COUNT?          -> COUNT <count>       pulses started since START
//   anything else   -> ERR <reason>
//
// Pulse k rises at k / fps after START (the first one immediately) and stays high for half
// the period, at most 1 ms. Wire pin 9 (and GND) to the DAQ input named by the rig's
// syncbox.ttl_channel; the recorder checks that the DAQ saw exactly <count> pulses.
// Timer1 generates the timing in hardware-driven interrupts (jitter: a few µs of interrupt
// latency); the count is exact.

#include <Arduino.h>

#define BOX_SERIAL "SB0001"          // give every box its own serial number
const uint8_t PULSE_PIN = 9;         // PB1 on the ATmega328P
const unsigned long BAUD = 115200;

volatile uint32_t pulseCount = 0;    // pulses started since START
volatile uint32_t pulseLimit = 0;    // 0: no limit
volatile bool stopping = false;
volatile bool running = false;

char line[48];
uint8_t lineLen = 0;

ISR(TIMER1_COMPA_vect) {             // end of a period: start the next pulse, or stop
  if (stopping || (pulseLimit != 0 && pulseCount >= pulseLimit)) {
    TCCR1B = 0;                      // timer off; the pin is already low (COMPB came first)
    TIMSK1 = 0;
    running = false;
    return;
  }
  PORTB |= _BV(PB1);
  pulseCount++;
}

ISR(TIMER1_COMPB_vect) {             // end of the high time
  PORTB &= ~_BV(PB1);
}

uint32_t readCount() {
  noInterrupts();
  uint32_t c = pulseCount;
  interrupts();
  return c;
}

// Configure Timer1 in CTC mode (TOP = OCR1A) for fps; returns the fps really generated.
float startPulses(float fps, uint32_t n) {
  static const uint16_t prescalers[] = {1, 8, 64, 256, 1024};
  static const uint8_t csBits[] = {_BV(CS10), _BV(CS11), _BV(CS11) | _BV(CS10), _BV(CS12),
                                   _BV(CS12) | _BV(CS10)};
  uint8_t i = 0;
  float ticks = 0;
  for (; i < 5; i++) {
    ticks = F_CPU / (prescalers[i] * fps);
    if (ticks <= 65536.0) break;
  }
  if (i == 5) return -1;             // slower than F_CPU / 1024 / 65536 ≈ 0.24 Hz
  uint32_t period = (uint32_t)(ticks + 0.5);
  uint32_t high = min((uint32_t)(F_CPU / prescalers[i] / 1000UL), period / 2);
  if (high < 1) high = 1;
  TCCR1B = 0;
  TCCR1A = 0;
  TIMSK1 = 0;
  noInterrupts();
  pulseCount = 1;                    // the first pulse starts now
  pulseLimit = n;
  stopping = false;
  running = true;
  OCR1A = period - 1;
  OCR1B = high;
  TCNT1 = 0;
  TIFR1 = _BV(OCF1A) | _BV(OCF1B);
  PORTB |= _BV(PB1);
  TIMSK1 = _BV(OCIE1A) | _BV(OCIE1B);
  TCCR1B = _BV(WGM12) | csBits[i];   // CTC, start counting
  interrupts();
  return (float)F_CPU / prescalers[i] / period;
}

void handle(char *cmd) {
  char *word = strtok(cmd, " ");
  if (word == NULL) return;
  for (char *p = word; *p; p++) *p = toupper(*p);
  char *arg1 = strtok(NULL, " ");
  char *arg2 = strtok(NULL, " ");
  char *extra = strtok(NULL, " ");
  if (strcmp(word, "ID?") == 0 && arg1 == NULL) {
    Serial.println(F("ID mocap3d-syncbox 1 " BOX_SERIAL));
  } else if (strcmp(word, "COUNT?") == 0 && arg1 == NULL) {
    Serial.print(F("COUNT "));
    Serial.println((unsigned long)readCount());
  } else if (strcmp(word, "STOP") == 0 && arg1 == NULL) {
    stopping = true;                 // set first: no pulse starts after the count is read
    Serial.print(F("OK STOP "));
    Serial.println((unsigned long)readCount());
  } else if (strcmp(word, "START") == 0 && arg1 != NULL && extra == NULL) {
    float fps = atof(arg1);
    long n = arg2 ? atol(arg2) : 0;
    if (!(fps > 0 && fps <= 100000.0) || n < 0) {
      Serial.println(F("ERR fps must be in (0, 100000] and n >= 0"));
    } else if (running && !stopping) {
      Serial.println(F("ERR already running; send STOP first"));
    } else {
      float actual = startPulses(fps, (uint32_t)n);
      if (actual < 0) {
        Serial.println(F("ERR fps too low"));
      } else {
        Serial.print(F("OK START "));
        Serial.print(actual, 3);
        Serial.print(' ');
        Serial.println(n);
      }
    }
  } else {
    Serial.println(F("ERR unknown command"));
  }
}

void setup() {
  pinMode(PULSE_PIN, OUTPUT);
  digitalWrite(PULSE_PIN, LOW);
  Serial.begin(BAUD);
  Serial.println(F("READY mocap3d-syncbox 1"));
}

void loop() {
  while (Serial.available() > 0) {
    char c = Serial.read();
    if (c == '\r') continue;
    if (c == '\n') {
      line[lineLen] = '\0';
      handle(line);
      lineLen = 0;
    } else if (lineLen < sizeof(line) - 1) {
      line[lineLen++] = c;
    }
  }
}
