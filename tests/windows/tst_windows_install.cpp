// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The platform-free half of the Windows installer and service log (platform/windows/core),
// tested natively: argument quoting, the install plan behind `berth install windows-service
// --print` (defaults, accounts, what it rejects), the rotating service log, and the real CLI's
// --print on this platform.
#include "consoleevents.h"
#include "installplan.h"
#include "rotatingfile.h"
#include "scmprogress.h"

#include <QtCore/QFile>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtTest/QTest>

#include <string>

using namespace berth::win;
using namespace Qt::StringLiterals;


class tst_WindowsInstall : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void quoteArgument_data();
    void quoteArgument();
    void installPlanDefaults();
    void installPlanAccounts_data();
    void installPlanAccounts();
    void installPlanRejects_data();
    void installPlanRejects();
    void rotatingFile();
    void cliInstallPrint();
};

void tst_WindowsInstall::quoteArgument_data()
{
    QTest::addColumn<QString>("arg");
    QTest::addColumn<QString>("quoted");
    QTest::newRow("plain") << u"berth"_s << u"berth"_s;
    QTest::newRow("empty") << QString() << u"\"\""_s;
    QTest::newRow("space") << u"C:\\Program Files\\Berth\\berth.exe"_s << u"\"C:\\Program Files\\Berth\\berth.exe\""_s;
    QTest::newRow("quote") << u"a\"b"_s << u"\"a\\\"b\""_s;
    QTest::newRow("trailing backslash") << u"C:\\my dir\\"_s << u"\"C:\\my dir\\\\\""_s;
    QTest::newRow("backslashes before a quote") << u"a\\\\\"b c"_s << u"\"a\\\\\\\\\\\"b c\""_s;
    QTest::newRow("backslash, no quoting needed") << u"C:\\x\\"_s << u"C:\\x\\"_s;
}

void tst_WindowsInstall::quoteArgument()
{
    QFETCH(QString, arg);
    QFETCH(QString, quoted);
    QCOMPARE(QString::fromStdString(quoteWindowsArgument(arg.toStdString())), quoted);
}

void tst_WindowsInstall::installPlanDefaults()
{
    InstallOptions o;
    o.executable = "C:\\Program Files\\Berth\\berth.exe";
    o.configFile = "C:\\ProgramData\\Berth\\berth.json";
    o.deadlineMs = 10000;
    InstallPlan p;
    std::string error;
    QVERIFY(makeInstallPlan(o, &p, &error));
    QCOMPARE(p.name, std::string("berth"));
    QCOMPARE(p.account, std::string("NT AUTHORITY\\LocalService"));
    QCOMPARE(p.commandLine, std::string("\"C:\\Program Files\\Berth\\berth.exe\" run --service --name berth "
                                        "--config C:\\ProgramData\\Berth\\berth.json"));
    QCOMPARE(p.preshutdownTimeoutMs, 11000u);
    QCOMPARE(decideScmControl(scm::ControlPreshutdown, p.preshutdownTimeoutMs).platformLimitMs, 10000u);
    QVERIFY(!p.delayedAutoStart);
    QVERIFY(p.failureActionsOnNonCrashFailures);
    QCOMPARE(p.failureActions.size(), std::size_t(3));
    for (const auto &a : p.failureActions)
        QVERIFY(a.restart && a.delayMs > 0);
    const QString text = QString::fromStdString(p.render());
    for (const auto &expected : {u"service name: berth"_s, u"account: NT AUTHORITY\\LocalService"_s,
                                 u"start type: automatic\n"_s, u"preshutdown timeout: 11 s"_s,
                                 u"recovery: restart after 5 s, restart after 10 s, restart after 30 s"_s,
                                 u"recovery on non-crash failures: yes"_s, u"description: "_s,
                                 u"controls accepted: STOP, PRESHUTDOWN, PARAMCHANGE"_s})
        QVERIFY2(text.contains(expected), qPrintable(expected + u" not in:\n"_s + text));

    o.delayedAutoStart = true;
    o.deadlineMs = 2500;
    QVERIFY(makeInstallPlan(o, &p, &error));
    QVERIFY(QString::fromStdString(p.render()).contains(u"start type: automatic (delayed start)"_s));
    QVERIFY(QString::fromStdString(p.render()).contains(u"preshutdown timeout: 3.500 s"_s));
}

void tst_WindowsInstall::installPlanAccounts_data()
{
    QTest::addColumn<QString>("account");
    QTest::addColumn<QString>("registered");
    QTest::newRow("default") << QString() << u"NT AUTHORITY\\LocalService"_s;
    QTest::newRow("LocalService") << u"LocalService"_s << u"NT AUTHORITY\\LocalService"_s;
    QTest::newRow("NetworkService") << u"networkservice"_s << u"NT AUTHORITY\\NetworkService"_s;
    QTest::newRow("LocalSystem: no name") << u"LocalSystem"_s << QString();
    QTest::newRow("virtual") << u"virtual"_s << u"NT SERVICE\\svc"_s;
    QTest::newRow("managed account") << u"CORP\\berth$"_s << u"CORP\\berth$"_s;
}

void tst_WindowsInstall::installPlanAccounts()
{
    QFETCH(QString, account);
    QFETCH(QString, registered);
    InstallOptions o;
    o.name = "svc";
    o.executable = "C:\\b.exe";
    o.account = account.toStdString();
    InstallPlan p;
    std::string error;
    QVERIFY2(makeInstallPlan(o, &p, &error), error.c_str());
    QCOMPARE(QString::fromStdString(p.account), registered);
}

void tst_WindowsInstall::installPlanRejects_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("account");
    QTest::addColumn<QString>("error");
    QTest::newRow("empty name") << QString() << QString() << u"bad service name"_s;
    QTest::newRow("slash in name") << u"a/b"_s << QString() << u"bad service name"_s;
    QTest::newRow("backslash in name") << u"a\\b"_s << QString() << u"bad service name"_s;
    QTest::newRow("name too long") << QString(257, u'x') << QString() << u"bad service name"_s;
    QTest::newRow("unknown account") << u"svc"_s << u"bob"_s << u"account \"bob\""_s;
}

void tst_WindowsInstall::installPlanRejects()
{
    QFETCH(QString, name);
    QFETCH(QString, account);
    QFETCH(QString, error);
    InstallOptions o;
    o.name = name.toStdString();
    o.executable = "C:\\b.exe";
    o.account = account.toStdString();
    InstallPlan p;
    std::string message;
    QVERIFY(!makeInstallPlan(o, &p, &message));
    QVERIFY2(QString::fromStdString(message).startsWith(error), message.c_str());
}

void tst_WindowsInstall::rotatingFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"logs/berth.log"_s);   // the directory is created
    {
        RotatingFile file(path.toStdString(), 100, 2);
        // 40 bytes a line with the newline: two fit in 100.
        for (char c : std::string("abcdefg"))
            QVERIFY(file.writeLine(std::string(39, c)));
    }
    const auto read = [](const QString &p) {
        QFile f(p);
        return f.open(QIODevice::ReadOnly) ? QString::fromLatin1(f.readAll()) : u"<missing>"_s;
    };
    const auto lines = [](char a, char b) {
        QString s = QString(39, QLatin1Char(a)) + u'\n';
        if (b)
            s += QString(39, QLatin1Char(b)) + u'\n';
        return s;
    };
    QCOMPARE(read(path), lines('g', 0));
    QCOMPARE(read(path + u".1"_s), lines('e', 'f'));
    QCOMPARE(read(path + u".2"_s), lines('c', 'd'));
    QVERIFY(!QFile::exists(path + u".3"_s));   // keep = 2: "ab" went
    {
        // Reopening appends and counts what is there.
        RotatingFile file(path.toStdString(), 100, 2);
        QVERIFY(file.writeLine(std::string(39, 'h')));
        QVERIFY(file.writeLine(std::string(39, 'i')));
    }
    QCOMPARE(read(path), lines('i', 0));
    QCOMPARE(read(path + u".1"_s), lines('g', 'h'));
    QCOMPARE(read(path + u".2"_s), lines('e', 'f'));
}

// `berth install windows-service --print` works on every platform; the real thing needs Windows.
void tst_WindowsInstall::cliInstallPrint()
{
    const auto run = [](const QStringList &args, QString *out = nullptr, QString *err = nullptr) {
        QProcess p;
        p.start(QStringLiteral(BERTH_BINARY), args);
        if (!p.waitForFinished(30000))
            return -1;
        if (out)
            *out = QString::fromUtf8(p.readAllStandardOutput());
        if (err)
            *err = QString::fromUtf8(p.readAllStandardError());
        return p.exitCode();
    };
    QString out, err;
    QCOMPARE(run({u"install"_s, u"windows-service"_s, u"--name"_s, u"svc"_s, u"--delayed-auto-start"_s,
                  u"--print"_s}, &out, &err), 0);
    QVERIFY2(out.contains(u"service name: svc"_s), qPrintable(out));
    QVERIFY(out.contains(u" run --service --name svc"_s));
    QVERIFY(out.contains(u"start type: automatic (delayed start)"_s));
    QVERIFY(out.contains(u"preshutdown timeout: 11 s"_s));   // the demo config's 10 s deadline
    QCOMPARE(run({u"install"_s, u"windows-service"_s, u"--account"_s, u"bob"_s, u"--print"_s}, nullptr, &err), 2);
    QVERIFY(err.contains(u"account \"bob\""_s));
    QCOMPARE(run({u"install"_s}, nullptr, &err), 2);
    QVERIFY(err.contains(u"needs a target"_s));
    QCOMPARE(run({u"install"_s, u"nothing"_s, u"--print"_s}, nullptr, &err), 2);
    QVERIFY(err.contains(u"unknown install target"_s));
    QCOMPARE(run({u"uninstall"_s, u"windows-service"_s, u"--print"_s}, &out), 0);
    QVERIFY(out.contains(u"would stop (if running) and remove"_s));
}

QTEST_GUILESS_MAIN(tst_WindowsInstall)
#include "tst_windows_install.moc"
