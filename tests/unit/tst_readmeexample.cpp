// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The README's service example is real code: it compiles, runs in a host, and its tracked work
// drains on stop. The README and readme_example.h must stay the same text.
#include "readme_example.h"

#include "config/config.h"
#include "engine/servicehost.h"

#include <berth/lifetime.h>
#include <berth/serviceregistry.h>

#include <QtCore/QFile>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace berth;

class TestReadmeExample : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void readmeShowsThisCode();
    void pollerRunsAndItsWorkDrains();
};

void TestReadmeExample::readmeShowsThisCode()
{
    QFile readme(QStringLiteral(BERTH_SOURCE_DIR "/README.md"));
    QFile example(QStringLiteral(BERTH_SOURCE_DIR "/tests/unit/readme_example.h"));
    QVERIFY(readme.open(QIODevice::ReadOnly) && example.open(QIODevice::ReadOnly));
    QByteArray code = example.readAll();
    code = code.mid(code.indexOf("#include <berth/service.h>"));
    const QByteArray block = QByteArray("```cpp\n") + code + QByteArray("```\n");
    QVERIFY2(readme.readAll().contains(block), "README.md and tests/unit/readme_example.h differ");
}

void TestReadmeExample::pollerRunsAndItsWorkDrains()
{
    ServiceRegistry registry;
    registry.add({u"poller"_s, u"README example"_s, {}, [] { return std::make_unique<Poller>(); }});
    const ConfigResult cfg = parseConfig(R"({"services":[{"name":"p","type":"poller"}]})", u"t.json"_s, registry);
    QVERIFY(cfg.ok());
    Lifetime lifetime;
    ServiceHost host(cfg.config, registry, lifetime);
    QSignalSpy ready(&host, &HostProgress::allReady);
    host.start();
    QVERIFY(ready.wait(5000));
    QTRY_VERIFY_WITH_TIMEOUT(host.ledger().activeCount(u"p"_s) >= 1, 5000);
    lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(host.isFinished(), 5000);
    QCOMPARE(host.exitCode(), 0);
    QVERIFY(host.ledger().counts(u"p"_s).drained >= 1);
    QCOMPARE(host.ledger().counts(u"p"_s).leaked, 0);
}

QTEST_GUILESS_MAIN(TestReadmeExample)
#include "tst_readmeexample.moc"
