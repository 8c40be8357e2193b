#include "data_location.h"

#include <QDir>
#include <QFileInfo>
#include <QStringList>

namespace bnlab::app {

QString findBundledMnist(const QString& applicationDir) {
    QStringList candidates;
    const QString env = qEnvironmentVariable("BNLAB_DATA_DIR");
    if (!env.isEmpty()) candidates << env + "/mnist" << env;
    candidates << applicationDir + "/../" BNLAB_DATA_DIR_INSTALL "/mnist"  // installed: <prefix>/bin/../share/...
               << BNLAB_DATA_DIR_BUILD "/mnist";                         // the source tree of this build
    for (const QString& c : candidates) {
        const QDir dir(c);
        if (dir.exists("train-images-idx3-ubyte.gz") || dir.exists("train-images-idx3-ubyte"))
            return QFileInfo(dir.absolutePath()).canonicalFilePath();
    }
    return {};
}

}  // namespace bnlab::app
